// SQL of the process analysis: a form's versions, and per region the units counted under each typed answer,
// read from the tallies the database keeps (analysis.functions.sql), plus what the reports the log has not
// integrated yet change, computed in the same snapshot.
import { Prisma } from '../../generated/prisma/client.js';
import { subtreeOf } from '../../infra/auth/policy.js';
import type { Query } from '../../infra/db/prepared.js';

export type AnalysisLevel = 'national' | 'state' | 'municipality' | 'parish';

export interface FormVersionRow {
  version: number;
  unit: 'centre' | 'table';
  retired: boolean;
  definition: { questions?: { key: string; type: string; options?: { key: string }[] }[] };
}

export interface TallyRow {
  code: string;
  name: string;
  centres: number;
  tables: number;
  /**
   * Each stripe's counts { key: units } ("#units": the reporting units; "<question>|<value>": the units under a
   * typed answer), to be added up, and one more for the reports the log has not integrated yet (its counts may
   * be negative: what their units counted before); null when the region has none.
   */
  counts: Record<string, number>[] | null;
}

/** Regions of `level` under `root` (everywhere when null). */
function areaOf(level: AnalysisLevel, root: string | null): Prisma.Sql {
  if (level === 'national') return Prisma.sql`SELECT ''::varchar AS code, 'National'::varchar AS name`;
  return Prisma.sql`
    SELECT r.code, r.name FROM regions r
    WHERE r.level = ${level}::region_level
      ${root === null ? Prisma.empty : Prisma.sql`AND r.code IN (${subtreeOf(root)})`}`;
}

export const analysisRepository = {
  /** Every published version of form `key`, oldest first (none: no such form). */
  async versions(run: Query, key: string): Promise<FormVersionRow[]> {
    return run<FormVersionRow>(Prisma.sql`
      SELECT v.version, f.unit, v.retired_at IS NOT NULL AS retired, v.definition
      FROM forms f JOIN form_versions v ON v.form_key = f.key
      WHERE f.key = ${key} ORDER BY v.version`);
  },

  /** Per region of `level` under `root`: its registry size and the sums over stripes of its tallies of form `key`. */
  async tallies(run: Query, key: string, area: { level: AnalysisLevel; root: string | null }): Promise<TallyRow[]> {
    const { level } = area;
    // A region's few stripe rows as one JSON array (node-postgres parses JSON natively); the service adds them up.
    return run<TallyRow>(Prisma.sql`
      WITH area AS (${areaOf(level, area.root)}),
      t AS (
        SELECT t.code, json_agg(t.counts) AS counts FROM (
          SELECT t.code, t.counts FROM analysis_tallies t
          WHERE t.form_key = ${key} AND t.level = ${level} AND t.code IN (SELECT code FROM area) AND t.counts <> '{}'::jsonb
          UNION ALL
          -- the reports the log has not integrated yet (not in the tallies): what they change, in this snapshot
          SELECT p.code, p.counts FROM testigo_analysis_pending(${key}, ${level}) p WHERE p.code IN (SELECT code FROM area)) t
        GROUP BY t.code)
      SELECT a.code, a.name, coalesce(g.centres, 0)::int AS centres, coalesce(g.tables, 0)::int AS tables, t.counts
      FROM area a
      LEFT JOIN summary_registry g ON g.level = ${level} AND g.code = a.code
      LEFT JOIN t ON t.code = a.code
      ORDER BY a.code`);
  },
};
