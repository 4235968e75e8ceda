// GeoJSON for maps: the summaries' own rows (src/features/summaries, the same scope and numbers) joined to the
// regions' boundaries (REGIONS_GEOJSON) or to the centres' coordinates. Bodies are built as text: the boundaries
// are kept serialised, and the national list of centres is read state by state (each read bounded like
// GET /v1/summaries?level=centre&parent=STATE), about 12,800 points and 3 MB for Venezuela.
import type { Actor } from '../../infra/auth/actor.js';
import type { Query } from '../../infra/db/prepared.js';
import { AppError } from '../../infra/errors.js';
import type { SummariesService, Summary } from '../summaries/summaries.service.js';
import type { Boundaries } from './geo.boundaries.js';
import { geoRepository as repo } from './geo.repository.js';

type RegionLevel = 'state' | 'municipality' | 'parish';

/** What a centre's point carries: its registry size and its coverage, from its summary row. */
export function centreProperties(row: Summary) {
  return {
    code: row.code,
    name: row.name,
    tables: row.coverage.tables,
    registeredVoters: row.coverage.registeredVoters,
    reports: row.reports.total,
    opened: row.coverage.centresOpened > 0,
    openedAt: row.opening.medianOpenedAt,
    tablesCounted: row.coverage.tablesCounted,
    tablesCountedShare: row.coverage.tablesCountedShare,
    incidents: row.incidents.total,
    incidentsOpen: row.incidents.open,
  };
}

const featureText = (code: string, geometry: string, properties: unknown) =>
  `{"type":"Feature","id":${JSON.stringify(code)},"geometry":${geometry},"properties":${JSON.stringify(properties)}}`;

export function createGeoService(deps: { summaries: SummariesService; boundaries: Boundaries; run: Query }) {
  const { summaries, boundaries, run } = deps;

  return {
    /** The regions of `level` under `parent` as a FeatureCollection, each with its GET /v1/summaries row. */
    async regions(actor: Actor | null, query: { level: RegionLevel; parent?: string | undefined }): Promise<string> {
      const list = await summaries.list(actor, query);
      const shapes = list.items.map((row) => boundaries.geometries.get(row.code));
      if (list.items.length > 0 && shapes.every((shape) => shape === undefined)) {
        throw new AppError(
          'GEO_BOUNDARIES_MISSING',
          `REGIONS_GEOJSON (${boundaries.path}) has no boundary for any ${query.level} here: give a FeatureCollection ` +
            `whose properties.code are the registry's ${query.level} codes`,
        );
      }
      const features = list.items.map((row, i) => featureText(row.code, shapes[i] ?? 'null', row));
      return `{"type":"FeatureCollection","level":${JSON.stringify(list.level)},"parent":${JSON.stringify(
        list.parent,
      )},"features":[${features.join(',')}]}`;
    },

    /** The centres under `region` (by default the caller's scope) that have coordinates, as Points with their coverage. */
    async centres(actor: Actor | null, query: { region?: string | undefined }): Promise<string> {
      let roots: string[];
      let region = query.region ?? null;
      if (region !== null) roots = [region];
      else {
        // The caller's scope: one region, or (national) the country, read one state at a time.
        const states = await summaries.list(actor, { level: 'state' });
        region = states.parent?.code ?? null;
        roots = region !== null ? [region] : states.items.map((row) => row.code);
      }
      const features: string[] = [];
      let centres = 0;
      for (const root of roots) {
        const [list, points] = await Promise.all([
          summaries.list(actor, { level: 'centre', parent: root }),
          repo.centreCoordinates(run, root),
        ]);
        centres += list.items.length;
        for (const row of list.items) {
          const point = points.get(row.code);
          if (point)
            features.push(
              featureText(row.code, `{"type":"Point","coordinates":[${point.join(',')}]}`, centreProperties(row)),
            );
        }
      }
      return `{"type":"FeatureCollection","region":${JSON.stringify(region)},"centres":${centres},"withoutCoordinates":${
        centres - features.length
      },"features":[${features.join(',')}]}`;
    },
  };
}

export type GeoService = ReturnType<typeof createGeoService>;
