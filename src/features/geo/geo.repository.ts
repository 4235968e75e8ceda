// SQL of the maps: the coordinates of the centres under a region (the summaries give their numbers).
import { Prisma } from '../../generated/prisma/client.js';
import { inRegion } from '../../infra/auth/policy.js';
import type { Query } from '../../infra/db/prepared.js';

export const geoRepository = {
  /** Centres under `root` (everywhere when null) that have both coordinates, by code. */
  async centreCoordinates(run: Query, root: string | null): Promise<Map<string, [number, number]>> {
    const rows = await run<{ code: string; longitude: number; latitude: number }>(Prisma.sql`
      SELECT c.code, c.longitude, c.latitude FROM centres c
      WHERE ${inRegion(root)} AND c.latitude IS NOT NULL AND c.longitude IS NOT NULL`);
    return new Map(rows.map((row) => [row.code, [row.longitude, row.latitude]]));
  },
};
