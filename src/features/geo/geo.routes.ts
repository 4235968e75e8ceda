// HTTP routes of the maps: GeoJSON (application/geo+json) of the regions' summaries and of the centres' coverage,
// readable, scoped and fresh exactly like the JSON summaries (summaryAccess, summaryFreshness).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { summaryAccess, summaryFreshness } from '../summaries/summaries.routes.js';
import { centresGeoQuery, centresGeoResponse, regionsGeoQuery, regionsGeoResponse } from './geo.schemas.js';

const GEOJSON = 'application/geo+json; charset=utf-8';
const body = z.string().meta({ description: 'application/geo+json' });

export async function geoRoutes(app: FastifyInstance, options: { publicSummaries: boolean }): Promise<void> {
  const service = app.services.geo;
  const route = app.withTypeProvider<ZodTypeProvider>();
  const { config, errors } = summaryAccess(options.publicSummaries);
  await summaryFreshness(app, options.publicSummaries);
  // The service writes the body as text, nothing to serialise again; problems are plain JSON.
  const serializerCompiler = () => (data: unknown) => (typeof data === 'string' ? data : JSON.stringify(data));
  const freshness = 'Carries a strong ETag; send it back in If-None-Match to get 304 while nothing changed.';

  route.get(
    '/v1/summaries.geojson',
    {
      config: { ...config, rawResponse: regionsGeoResponse },
      serializerCompiler,
      schema: {
        tags: ['summaries'],
        operationId: 'summaries.geojson',
        summary: "The summaries of a level as a map: each region's boundary with its summary row",
        description:
          'Each Feature has `id` the region code, the boundary from REGIONS_GEOJSON (null for a region it lacks) and, ' +
          'as `properties`, exactly the row GET /v1/summaries gives for the same `level` and `parent`. Live picture ' +
          'only (no since/until). 422 GEO_BOUNDARIES_MISSING when the file has no boundary for any of the regions. ' +
          freshness,
        querystring: regionsGeoQuery,
        response: { 200: body, ...errors, 422: errors[400] },
      },
    },
    async (request, reply) => reply.type(GEOJSON).send(await service.regions(request.actor, request.query)),
  );

  route.get(
    '/v1/centres.geojson',
    {
      config: { ...config, rawResponse: centresGeoResponse },
      serializerCompiler,
      schema: {
        tags: ['summaries'],
        operationId: 'summaries.centresGeojson',
        summary: 'The centres of a region with coordinates, as points with their coverage',
        description:
          'Centres without coordinates in the registry are left out (counted in `withoutCoordinates`). Without ' +
          "`region`, the caller's scope (the whole country for national roles: about 12,800 points for Venezuela). " +
          freshness,
        querystring: centresGeoQuery,
        response: { 200: body, ...errors },
      },
    },
    async (request, reply) => reply.type(GEOJSON).send(await service.centres(request.actor, request.query)),
  );
}
