// SQL of summaries. Two independent ways to the same rows: `fromTallies` reads what the triggers of
// migration 20261129160000_summaries keep (fast, for the live picture), `fromReports` recomputes from the
// reports themselves (for a time window, and as the oracle the tests hold the tallies to).
import { Prisma } from '../../generated/prisma/client.js';
import { inRegion, regionVerdict, regionWithin, subtreeOf } from '../../infra/auth/policy.js';
import type { Query } from '../../infra/db/prepared.js';
import type { BuiltinKind as ReportKind } from '../reports/forms.js';

export type SummaryLevel = 'national' | 'state' | 'municipality' | 'parish' | 'centre';

/** The additive counters of a region, named as the columns of summary_tallies. */
export const COUNTERS = [
  'arrival',
  'opening',
  'voting',
  'closing',
  'results',
  'incident',
  'incidents_open',
  'severity_low',
  'severity_medium',
  'severity_high',
  'severity_critical',
  'flagged',
  'conflicting',
  'unreviewed',
  'verified',
  'rejected',
  'centres_reporting',
  'centres_opened',
  'tables_counted',
  'registered_voters',
  'valid_votes',
  'null_votes',
  'blank_votes',
] as const;
export type Counter = (typeof COUNTERS)[number];

export type TallyRow = Record<Counter, number> & {
  code: string;
  name: string;
  centres: number;
  tables: number;
  registryVoters: number;
  categories: Record<string, number> | null;
  votes: Record<string, number> | null;
  /** The opening histogram: minutes of the day and how many centres opened at each (same length, any order). */
  openingMinutes: number[] | null;
  openingCentres: number[] | null;
};

/** Regions (or centres) of `level` under `root` (everywhere when null): the rows a summary answers with. */
function areaOf(level: SummaryLevel, root: string | null): Prisma.Sql {
  if (level === 'national') return Prisma.sql`SELECT ''::varchar AS code, 'National'::varchar AS name`;
  if (level === 'centre') {
    return Prisma.sql`
      SELECT c.code, c.name FROM centres c
      WHERE ${inRegion(root)}`;
  }
  return Prisma.sql`
    SELECT r.code, r.name FROM regions r
    WHERE r.level = ${level}::region_level
      ${root === null ? Prisma.empty : Prisma.sql`AND r.code IN (${subtreeOf(root)})`}`;
}

/** The column of a report that names its region at `level`. */
function regionColumn(level: SummaryLevel): Prisma.Sql {
  switch (level) {
    case 'national':
      return Prisma.sql`''::varchar`;
    case 'state':
      return Prisma.sql`x.state_code`;
    case 'municipality':
      return Prisma.sql`x.municipality_code`;
    case 'parish':
      return Prisma.sql`x.parish_code`;
    case 'centre':
      return Prisma.sql`x.centre_code`;
  }
}

/** Objects of counts added key by key; keys that add up to 0 are left out, and nothing at all is null. */
function sumParts(parts: Record<string, number>[] | null): Record<string, number> | null {
  const total: Record<string, number> = {};
  for (const part of parts ?? [])
    for (const [key, value] of Object.entries(part)) total[key] = (total[key] ?? 0) + Number(value);
  // Sorted, so that the same counts always read the same (the ETag is a hash of the body).
  const entries = Object.entries(total)
    .filter(([, value]) => value !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length > 0 ? Object.fromEntries(entries) : null;
}

const counterColumns = (alias: string) =>
  Prisma.raw(COUNTERS.map((name) => `coalesce(${alias}.${name}, 0)::float8 AS ${name}`).join(', '));

/** The row shape both paths end with: the area, its registry size, counters, votes, categories and opening. */
function finalSelect(level: SummaryLevel, counters: string): Prisma.Sql {
  return Prisma.sql`
    SELECT a.code, a.name, coalesce(g.centres, 0)::int AS centres, coalesce(g.tables, 0)::int AS tables,
           coalesce(g.registered_voters, 0)::float8 AS "registryVoters", ${counterColumns(counters)},
           cats.categories, v.votes, o.minutes AS "openingMinutes", o.centres AS "openingCentres"
    FROM area a
    LEFT JOIN summary_registry g ON g.level = ${level} AND g.code = a.code
    LEFT JOIN ${Prisma.raw(counters)} ON ${Prisma.raw(counters)}.code = a.code
    LEFT JOIN cats ON cats.code = a.code
    LEFT JOIN v ON v.code = a.code
    LEFT JOIN o ON o.code = a.code
    ORDER BY a.code`;
}

export interface AreaQuery {
  level: SummaryLevel;
  root: string | null;
}

export const summariesRepository = {
  /** Rows from the trigger-kept tallies: sums over each region's stripes, and its opening histogram. */
  async fromTallies(query: Query, area: AreaQuery): Promise<TallyRow[]> {
    const { level } = area;
    const sums = Prisma.raw(COUNTERS.map((name) => `sum(t.${name}) AS ${name}`).join(', '));
    // The stripes' votes and categories come back as lists of objects, added up here: cheaper than
    // unnesting them in SQL, and it leaves the database's CPU to the writers.
    const rows = await query<
      TallyRow & { votes: Record<string, number>[] | null; categories: Record<string, number>[] | null }
    >(Prisma.sql`
      WITH area AS (${areaOf(level, area.root)}),
      t AS (
        SELECT t.code, ${sums},
               jsonb_agg(t.votes) FILTER (WHERE t.votes <> '{}'::jsonb) AS votes,
               jsonb_agg(t.categories) FILTER (WHERE t.categories <> '{}'::jsonb) AS categories
        FROM summary_tallies t JOIN area a ON a.code = t.code WHERE t.level = ${level} GROUP BY t.code),
      v AS (SELECT code, votes FROM t),
      cats AS (SELECT code, categories FROM t),
      o AS (
        -- The histogram as two arrays per region (a window over it costs more than the rest of the query).
        -- As JSON arrays: node-postgres parses those natively, its int[] parser is slow JavaScript.
        SELECT code, array_to_json(array_agg(minute)) AS minutes, array_to_json(array_agg(centres)) AS centres
        FROM (SELECT h.code, h.minute::int AS minute, h.centres FROM summary_openings h
              WHERE h.level = ${level} AND h.code IN (SELECT code FROM area) AND h.centres <> 0) histogram
        GROUP BY code)
      ${finalSelect(level, 't')}`);
    return rows.map((row) => ({ ...row, votes: sumParts(row.votes), categories: sumParts(row.categories) }));
  },

  /**
   * The same rows computed from the reports received in [since, until), with the rules written out again
   * in plain SQL: a rejected report counts only as rejected; a centre's opening time is its earliest
   * opening report; a table's counted result is its latest verified report, else its latest one without
   * a conflict. Verified means verified at the current revision: a revision resets the review state
   * (reports.repository reviseStatement, migration 20261202100000_review_revision), as the triggers assume too.
   */
  async fromReports(
    query: Query,
    area: AreaQuery,
    window: { since?: Date | undefined; until?: Date | undefined },
  ): Promise<TallyRow[]> {
    const { level } = area;
    const live = Prisma.sql`review_state <> 'rejected'`;
    const kindCounts = (['arrival', 'opening', 'voting', 'closing', 'results', 'incident'] as const).map(
      (kind) => Prisma.sql`count(*) FILTER (WHERE ${live} AND kind = ${kind}) AS ${Prisma.raw(kind)}`,
    );
    const severities = (['low', 'medium', 'high', 'critical'] as const).map(
      (severity) =>
        Prisma.sql`count(*) FILTER (WHERE ${live} AND kind = 'incident' AND answers->>'severity' = ${severity})
          AS ${Prisma.raw(`severity_${severity}`)}`,
    );
    return query<TallyRow>(Prisma.sql`
      WITH area AS (${areaOf(level, area.root)}),
      r AS (
        SELECT ${regionColumn(level)} AS code, x.* FROM reports x
        WHERE ${regionColumn(level)} IN (SELECT code FROM area)
          ${window.since ? Prisma.sql`AND x.received_at >= ${window.since}` : Prisma.empty}
          ${window.until ? Prisma.sql`AND x.received_at < ${window.until}` : Prisma.empty}),
      counts AS (
        SELECT code, ${Prisma.join(kindCounts)}, ${Prisma.join(severities)},
               count(*) FILTER (WHERE ${live} AND kind = 'incident' AND answers->>'ongoing' = 'true') AS incidents_open,
               count(*) FILTER (WHERE ${live} AND (cardinality(flags) > 0 OR review_state = 'flagged')) AS flagged,
               count(*) FILTER (WHERE ${live} AND 'conflict' = ANY (flags)) AS conflicting,
               count(*) FILTER (WHERE review_state = 'unreviewed') AS unreviewed,
               count(*) FILTER (WHERE review_state = 'verified') AS verified,
               count(*) FILTER (WHERE review_state = 'rejected') AS rejected
        FROM r GROUP BY code),
      centre_openings AS (
        SELECT code, centre_code,
               min((split_part(answers->>'openedAt', ':', 1)::int * 60 + split_part(answers->>'openedAt', ':', 2)::int))
                 FILTER (WHERE kind = 'opening') AS opened
        FROM r WHERE ${live} GROUP BY code, centre_code),
      centres AS (
        SELECT code, count(*) AS centres_reporting, count(opened) AS centres_opened FROM centre_openings GROUP BY code),
      o AS (
        SELECT code, array_to_json(array_agg(opened ORDER BY opened)) AS minutes,
               array_to_json(array_agg(centres ORDER BY opened)) AS centres
        FROM (SELECT code, opened, count(*)::int AS centres FROM centre_openings
              WHERE opened IS NOT NULL GROUP BY code, opened) histogram
        GROUP BY code),
      counted AS (
        SELECT DISTINCT ON (centre_code, table_number) code, answers FROM r
        WHERE kind = 'results' AND table_number IS NOT NULL AND ${live}
          AND (review_state = 'verified' OR NOT ('conflict' = ANY (flags)))
        ORDER BY centre_code, table_number, review_state = 'verified' DESC, received_at DESC, id DESC),
      results AS (
        SELECT code, count(*) AS tables_counted, sum((answers->>'registeredVoters')::bigint) AS registered_voters,
               sum((answers->>'validVotes')::bigint) AS valid_votes, sum((answers->>'nullVotes')::bigint) AS null_votes,
               sum(coalesce((answers->>'blankVotes')::bigint, 0)) AS blank_votes
        FROM counted GROUP BY code),
      v AS (
        SELECT code, jsonb_object_agg(key, total) AS votes FROM (
          SELECT c.code, e.key, sum(e.value::bigint) AS total
          FROM counted c CROSS JOIN LATERAL jsonb_each_text(c.answers->'votes') e
          GROUP BY c.code, e.key HAVING sum(e.value::bigint) <> 0) s GROUP BY code),
      cats AS (
        SELECT code, jsonb_object_agg(category, total) AS categories FROM (
          SELECT code, answers->>'category' AS category, count(*) AS total
          FROM r WHERE ${live} AND kind = 'incident' GROUP BY 1, 2) s GROUP BY code),
      t AS (
        SELECT a.code, counts.arrival, counts.opening, counts.voting, counts.closing, counts.results, counts.incident,
               counts.incidents_open, counts.severity_low, counts.severity_medium, counts.severity_high,
               counts.severity_critical, counts.flagged, counts.conflicting, counts.unreviewed, counts.verified,
               counts.rejected, centres.centres_reporting, centres.centres_opened, results.tables_counted,
               results.registered_voters, results.valid_votes, results.null_votes, results.blank_votes
        FROM area a LEFT JOIN counts ON counts.code = a.code LEFT JOIN centres ON centres.code = a.code
          LEFT JOIN results ON results.code = a.code)
      ${finalSelect(level, 't')}`);
  },

  /** Reports received per time bucket (only buckets with reports), oldest first, after `after`. */
  async timeline(
    run: Query,
    query: {
      root: string | null;
      kind?: ReportKind | undefined;
      bucketMinutes: number;
      since?: Date | undefined;
      until?: Date | undefined;
      after?: Date | undefined;
    },
    limit: number,
  ) {
    const x = Prisma.raw('x');
    return run<{ start: Date; kind: ReportKind; reports: number }>(Prisma.sql`
      WITH b AS (
        SELECT date_bin(make_interval(mins => ${query.bucketMinutes}), x.received_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')
                 AS start, x.kind
        FROM reports ${x}
        WHERE ${inRegion(query.root, Prisma.raw('x'))}
          ${query.kind ? Prisma.sql`AND x.kind = ${query.kind}` : Prisma.empty}
          ${query.since ? Prisma.sql`AND x.received_at >= ${query.since}` : Prisma.empty}
          ${query.until ? Prisma.sql`AND x.received_at < ${query.until}` : Prisma.empty}),
      buckets AS (
        SELECT DISTINCT start FROM b ${query.after ? Prisma.sql`WHERE start > ${query.after}` : Prisma.empty}
        ORDER BY start LIMIT ${limit})
      SELECT b.start, b.kind::text AS kind, count(*)::int AS reports
      FROM b JOIN buckets USING (start) GROUP BY b.start, b.kind ORDER BY b.start, b.kind`);
  },

  /**
   * Centres under `root` without an unrejected report of `kind`, by code after `after`, with their active observers;
   * phone and email only of observers for whom `contacts` (a condition on `u`) holds.
   */
  async missing(
    run: Query,
    query: {
      root: string | null;
      kind: ReportKind;
      observed?: boolean | undefined;
      after?: string | undefined;
      contacts: Prisma.Sql;
    },
    limit: number,
  ) {
    const observedOnly = query.observed
      ? Prisma.sql`AND EXISTS (SELECT 1 FROM assignments a JOIN users u ON u.id = a.user_id
                   WHERE a.centre_code = c.code AND u.active AND u.role = 'observer')`
      : Prisma.empty;
    return run<{
      code: string;
      name: string;
      stateCode: string;
      municipalityCode: string;
      parishCode: string;
      tables: number;
      observers: { id: string; name: string; phone: string | null; email: string | null }[];
    }>(Prisma.sql`
      SELECT c.code, c.name, c.state_code AS "stateCode", c.municipality_code AS "municipalityCode",
             c.parish_code AS "parishCode",
             (SELECT count(*)::int FROM polling_tables t WHERE t.centre_code = c.code) AS tables,
             coalesce((SELECT jsonb_agg(jsonb_build_object('id', u.id, 'name', u.name,
                                                           'phone', CASE WHEN ${query.contacts} THEN u.phone END,
                                                           'email', CASE WHEN ${query.contacts} THEN u.email END)
                                        ORDER BY u.name, u.id)
                       FROM assignments a JOIN users u ON u.id = a.user_id
                       WHERE a.centre_code = c.code AND u.active AND u.role = 'observer'), '[]'::jsonb) AS observers
      FROM centres c
      WHERE ${inRegion(query.root)}
        ${query.after ? Prisma.sql`AND c.code > ${query.after}` : Prisma.empty}
        AND NOT EXISTS (SELECT 1 FROM reports x WHERE x.centre_code = c.code AND x.kind = ${query.kind}
                        AND x.review_state <> 'rejected')
        ${observedOnly}
      ORDER BY c.code LIMIT ${limit}`);
  },

  /** A region or centre by code, with its level. */
  async findArea(run: Query, code: string): Promise<{ code: string; name: string; level: SummaryLevel } | undefined> {
    const rows = await run<{ code: string; name: string; level: SummaryLevel }>(Prisma.sql`
      SELECT code, name, level::text AS level FROM regions WHERE code = ${code}
      UNION ALL SELECT code, name, 'centre' FROM centres
      WHERE code = ${code} AND NOT EXISTS (SELECT 1 FROM regions WHERE code = ${code})`);
    return rows[0];
  },

  /** policy.regionWithin: whether `code` lies in the subtree of `root`. */
  async regionWithin(run: Query, code: string, root: string | null): Promise<'inside' | 'outside' | 'unknown'> {
    return regionVerdict(await run<{ inside: boolean }>(regionWithin(code, root)));
  },
};
