// Request schemas of the GeoJSON maps, and the OpenAPI description of their application/geo+json answers.
import { z } from 'zod';

const regionCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'a region code');

export const regionsGeoQuery = z.strictObject({
  level: z
    .enum(['state', 'municipality', 'parish'])
    .default('state')
    .meta({ description: 'The level of the regions (REGIONS_GEOJSON must hold boundaries for them)' }),
  parent: regionCode.optional().meta({ description: 'Only regions under this region; by default your scope' }),
});

export const centresGeoQuery = z.strictObject({
  region: regionCode
    .optional()
    .meta({ description: 'A state, municipality or parish; by default your scope (the country for national roles)' }),
});

const feature = (properties: Record<string, unknown>, geometry: Record<string, unknown>) => ({
  type: 'object',
  required: ['type', 'id', 'geometry', 'properties'],
  properties: { type: { const: 'Feature' }, id: { type: 'string' }, geometry, properties },
});
const collection = (description: string, item: Record<string, unknown>, extra: Record<string, unknown>) => ({
  description,
  content: {
    'application/geo+json': {
      schema: {
        type: 'object',
        required: ['type', 'features'],
        properties: { type: { const: 'FeatureCollection' }, ...extra, features: { type: 'array', items: item } },
      },
    },
  },
});

export const regionsGeoResponse = collection(
  'A GeoJSON FeatureCollection (RFC 7946): one Feature per region of the level, `id` its code, its boundary ' +
    '(null when REGIONS_GEOJSON has none for it) and, as `properties`, exactly its row of GET /v1/summaries',
  feature(
    { $ref: '#/components/schemas/Summary' },
    { type: ['object', 'null'], description: 'Polygon or MultiPolygon, longitude/latitude (WGS 84)' },
  ),
  {
    level: { type: 'string' },
    parent: { type: ['object', 'null'], description: 'As in GET /v1/summaries' },
  },
);

export const centresGeoResponse = collection(
  'A GeoJSON FeatureCollection: one Point per centre with coordinates, `id` its code, its coverage as `properties`',
  feature(
    {
      type: 'object',
      properties: {
        code: { type: 'string' },
        name: { type: 'string' },
        tables: { type: 'integer', description: 'Tables in the registry' },
        registeredVoters: { type: 'integer', description: 'Registered voters of its tables (registry)' },
        reports: { type: 'integer', description: 'Unrejected reports' },
        opened: { type: 'boolean', description: 'Has an unrejected opening report' },
        openedAt: { type: ['string', 'null'], description: 'Its opening time (HH:MM), when opened' },
        tablesCounted: { type: 'integer', description: 'Tables with a counted result' },
        tablesCountedShare: { type: ['number', 'null'] },
        incidents: { type: 'integer' },
        incidentsOpen: { type: 'integer' },
      },
    },
    { type: 'object', description: 'A Point: [longitude, latitude]' },
  ),
  {
    region: { type: ['string', 'null'], description: 'The region asked for (null: the whole country)' },
    centres: { type: 'integer', description: 'Centres in that region' },
    withoutCoordinates: { type: 'integer', description: 'Of those, centres left out for lack of coordinates' },
  },
);
