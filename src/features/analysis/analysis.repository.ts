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

/** One stored tally row of a region (one per stripe), named by its row version. */
export interface StoredStripe {
  /** The row version: region, stripe, the transaction that wrote it (xmin) and its place (ctid). */
  token: string;
  /**
   * Its counts { key: units } ("#units": the reporting units; "<question>|<value>": the units under a typed
   * answer); null when the caller said it has this row version already (`known`).
   */
  counts: Record<string, number> | null;
}

export interface TallyRow {
  code: string;
  name: string;
  centres: number;
  tables: number;
  /** The region's stored rows of the form (none: null), to be added up. */
  stored: StoredStripe[] | null;
  /**
   * What the reports the log has not integrated yet change (counts may be negative: what their units counted
   * before); null when nothing.
   */
  pending: Record<string, number> | null;
}

/** One analysis as read (analysisRepository.read). */
export interface AnalysisRead {
  version: number;
  versions: FormVersionRow[];
  rows: TallyRow[];
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
  /**
   * Everything one analysis needs, in one statement (so one snapshot and one round trip): the tallies' version it
   * read, every published version of form `key` oldest first (none: no such form), and per region of `level`
   * under `root` its registry size, its stored tally rows of the form, each named by its row version (token),
   * and what the reports the log has not integrated yet change. Rows whose token is in `known` come without
   * their counts: the caller has them parsed already (under ingest most rows stay unchanged between two reads,
   * while the version moves with every write, so most reads are misses of the versioned cache, and sending and
   * parsing the same counts again was most of a miss). Three statements in a transaction took three round trips.
   */
  async read(
    run: Query,
    key: string,
    area: { level: AnalysisLevel; root: string | null },
    known: string[] = [],
  ): Promise<AnalysisRead> {
    const { level } = area;
    const [row] = await run<AnalysisRead>(Prisma.sql`
      WITH area AS (${areaOf(level, area.root)}),
      stored AS (
        SELECT t.code,
               json_agg(json_build_object('token', x.token,
                                          'counts', CASE WHEN x.token IN (SELECT unnest(${known}::text[])) THEN NULL ELSE t.counts END)) AS stored
        FROM analysis_tallies t
        CROSS JOIN LATERAL (SELECT t.code || ' ' || t.stripe || ' ' || t.xmin::text || ' ' || t.ctid::text AS token) x
        WHERE t.form_key = ${key} AND t.level = ${level} AND t.code IN (SELECT code FROM area) AND t.counts <> '{}'::jsonb
        GROUP BY t.code),
      -- the reports the log has not integrated yet (not in the tallies): what they change, in this snapshot
      pending AS (SELECT p.code, p.counts FROM testigo_analysis_pending(${key}, ${level}) p WHERE p.code IN (SELECT code FROM area))
      SELECT testigo_tallies_version()::float8 AS version,
        coalesce((SELECT json_agg(json_build_object('version', v.version, 'unit', f.unit, 'retired', v.retired_at IS NOT NULL,
                                                    'definition', v.definition) ORDER BY v.version)
                  FROM forms f JOIN form_versions v ON v.form_key = f.key WHERE f.key = ${key}), '[]'::json) AS versions,
        coalesce((SELECT json_agg(json_build_object('code', a.code, 'name', a.name, 'centres', coalesce(g.centres, 0),
                                                    'tables', coalesce(g.tables, 0), 'stored', s.stored, 'pending', p.counts)
                                  ORDER BY a.code)
                  FROM area a
                  LEFT JOIN summary_registry g ON g.level = ${level} AND g.code = a.code
                  LEFT JOIN stored s ON s.code = a.code
                  LEFT JOIN pending p ON p.code = a.code), '[]'::json) AS rows`);
    if (!row) throw new Error('the analysis statement answered no row');
    return { ...row, version: Number(row.version) };
  },
};
