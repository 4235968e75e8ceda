// Region boundaries for maps: the GeoJSON file REGIONS_GEOJSON names (by default the shipped Venezuelan states,
// seed/ve-geo), read and checked once per process. Each feature's `properties.code` is a registry region code,
// of any level; features whose code is null are ignored (no region of the registry).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The shipped boundaries of Venezuela's 24 states (Natural Earth, public domain); found from src/ and dist/ alike. */
export const DEFAULT_REGIONS_GEOJSON = fileURLToPath(
  new URL('../../../seed/ve-geo/ve-states.geojson', import.meta.url),
);

const position = z
  .array(z.number())
  .min(2)
  .max(3)
  .refine(([lon = 0, lat = 0]) => Math.abs(lon) <= 180 && Math.abs(lat) <= 90, 'a [longitude, latitude] in degrees');
const ring = z.array(position).min(4, 'a linear ring has at least 4 positions');
const polygon = z.array(ring).min(1);
const geometry = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Polygon'), coordinates: polygon }),
  z.object({ type: z.literal('MultiPolygon'), coordinates: z.array(polygon).min(1) }),
]);
const code = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'a registry region code');
const collection = z.object({
  type: z.literal('FeatureCollection'),
  features: z.array(
    z.object({
      type: z.literal('Feature'),
      geometry,
      properties: z.looseObject({ code: code.nullable() }),
    }),
  ),
});

export interface Boundaries {
  /** The file they were read from. */
  path: string;
  /** Each region code's geometry, already serialised as JSON (answers splice it in as it is). */
  geometries: ReadonlyMap<string, string>;
}

const loaded = new Map<string, Boundaries>();

/**
 * Reads and checks a boundaries file (memoised by path). Throws an Error whose message says what is wrong:
 * unreadable, not JSON, not a FeatureCollection of Polygon/MultiPolygon features with `properties.code`, a code
 * given twice, or no code at all.
 */
export function loadBoundaries(path: string): Boundaries {
  const known = loaded.get(path);
  if (known) return known;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON`, { cause: error });
  }
  const parsed = collection.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(
      `${path} is not a FeatureCollection of Polygon/MultiPolygon features with properties.code: ` +
        `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  const geometries = new Map<string, string>();
  parsed.data.features.forEach((feature, i) => {
    const { code: region } = feature.properties;
    if (region === null) return;
    if (geometries.has(region)) throw new Error(`${path}: features.${i}: code "${region}" appears twice`);
    geometries.set(region, JSON.stringify(feature.geometry));
  });
  if (geometries.size === 0) throw new Error(`${path} has no feature with a properties.code`);
  const boundaries = { path, geometries };
  loaded.set(path, boundaries);
  return boundaries;
}
