// SQL of reports: the one-statement insert (report, first revision, audit row) that the primary key makes
// retry-safe, the per-table conflict verdict of results, revisions, reviews and filtered reads.
import type pg from 'pg';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { auditTrail as audit } from '../../infra/audit.js';
import type { Actor, RequestContext } from '../../infra/auth/actor.js';
import { inRegion, visibleReports } from '../../infra/auth/policy.js';
import type { Db as Sql } from '../../infra/db/client.js';
import { preparedQuery, preparedTransaction, type Query } from '../../infra/db/prepared.js';
import { retryAborted } from '../../infra/db/retry.js';
import type { ReportKind } from './forms.js';
export type ReviewState = 'unreviewed' | 'verified' | 'flagged' | 'rejected';

export interface ReportRow {
  id: string;
  kind: ReportKind;
  centreCode: string;
  tableNumber: number | null;
  stateCode: string;
  municipalityCode: string;
  parishCode: string;
  observerId: string;
  observedAt: Date;
  receivedAt: Date;
  formVersion: number;
  answers: Record<string, unknown>;
  notes: string | null;
  latitude: number | null;
  longitude: number | null;
  accuracy: number | null;
  submissionHash: string;
  contentHash: string;
  revision: number;
  reviewState: ReviewState;
  flags: string[];
  updatedAt: Date;
}
export interface RevisionRow {
  number: number;
  observedAt: Date;
  answers: Record<string, unknown>;
  notes: string | null;
  latitude: number | null;
  longitude: number | null;
  accuracy: number | null;
  contentHash: string;
  reason: string | null;
  authorId: string;
  createdAt: Date;
}
export interface CentreFacts {
  code: string;
  parishCode: string;
  municipalityCode: string;
  stateCode: string;
  tableVoters: number | null;
  assigned: boolean;
  /** The submission hash of a report already stored under the id being submitted (a retry), if any. */
  existingHash: string | null;
  /** Whether the form version asked about is retired (null: no such version). */
  formRetired: boolean | null;
}

/**
 * A report to insert as sent by `observerId` (who acts as `role`, within `scope`: null when unlimited), with the
 * flags known without the registry; `registeredVoters` (results) adds registered_voters_mismatch against the table.
 */
export interface NewReport {
  id: string;
  kind: ReportKind;
  centreCode: string;
  table: number | null;
  observedAt: string;
  formVersion: number;
  answers: Record<string, unknown>;
  notes: string | null;
  location: { lat: number; lon: number; accuracy: number | null } | null;
  hash: string;
  flags: string[];
  registeredVoters: number | null;
  observerId: string;
  role: string;
  scope: string | null;
  requestId: string | null;
  ip: string | null;
}

/** One table of results, the unit of the conflict verdict and of its lock. */
export interface ResultsTable {
  centreCode: string;
  table: number;
}
export const tableOf = (report: { centreCode: string; table: number | null }): ResultsTable => ({
  centreCode: report.centreCode,
  table: report.table!,
});

export interface ReportFilter {
  region?: string;
  centre?: string;
  table?: number;
  kind?: ReportKind;
  review?: string;
  flag?: string;
  observer?: string;
  since?: Date;
  until?: Date;
  time: 'received' | 'observed';
  before?: { at: Date; id: string };
}

const reportColumns = Prisma.sql`
  r.id, r.kind::text AS kind, r.centre_code AS "centreCode", r.table_number AS "tableNumber", r.state_code AS "stateCode",
  r.municipality_code AS "municipalityCode", r.parish_code AS "parishCode", r.observer_id AS "observerId", r.observed_at AS "observedAt",
  r.received_at AS "receivedAt", r.form_version AS "formVersion", r.answers, r.notes, r.latitude, r.longitude, r.accuracy,
  r.submission_hash AS "submissionHash", r.content_hash AS "contentHash", r.revision, r.review_state::text AS "reviewState", r.flags,
  r.updated_at AS "updatedAt"`;

/**
 * `LIMIT n` for a set of n rows unpacked from JSON, which the planner would otherwise guess at 100 rows and
 * join by scanning whole tables (centres, reports) instead of looking each row up by its key. n rounded up to a
 * power of two (a limit above the row count changes nothing), so that a statement has a few texts whatever the
 * number of rows, each one prepared once per connection and planned once (a generic plan: with the limit a
 * parameter instead, the verdict's generic plan estimated more rows than its custom plans, and PostgreSQL
 * planned it again on every call).
 */
const rowCount = (n: number) => Prisma.raw(`LIMIT ${2 ** Math.ceil(Math.log2(Math.max(1, Math.trunc(n))))}`);

export const reportsRepository = {
  /**
   * What a submission needs to know, in one round trip: the centre, its table, the assignment, a stored retry, and
   * whether the form version is retired.
   */
  async centreFacts(
    db: Sql,
    centreCode: string,
    table: number | null,
    userId: string,
    reportId: string,
    form: { kind: string; version: number } = { kind: '', version: 0 },
  ): Promise<CentreFacts | undefined> {
    const rows = await db.$queryRaw<(CentreFacts & { code: string | null })[]>`
      SELECT c.code, c.parish_code AS "parishCode", c.municipality_code AS "municipalityCode", c.state_code AS "stateCode",
             (SELECT t.registered_voters FROM polling_tables t WHERE t.centre_code = c.code AND t.number = ${table}) AS "tableVoters",
             EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = ${userId}::uuid AND a.centre_code = c.code) AS assigned,
             (SELECT r.submission_hash FROM reports r WHERE r.id = ${reportId}::uuid) AS "existingHash",
             (SELECT f.retired_at IS NOT NULL FROM form_versions f
              WHERE f.form_key = ${form.kind} AND f.version = ${form.version}) AS "formRetired"
      FROM (SELECT 1) one LEFT JOIN centres c ON c.code = ${centreCode}`;
    return rows[0];
  },

  /**
   * One statement for reports of several requests (ids distinct): each report, its revision 1 and its audit row,
   * answered `created`. A report is left out when its id exists (a retry: the stored report is answered, not
   * `created`, when the statement sees it), its centre or table is not in the registry, its form version is
   * retired (or missing), or its sender may not report there (observers: assigned centres; others: their
   * region): then no row answers it.
   * With `lock`, the statement first takes the locks of the reports' results tables (see lockTables), for a
   * conflict verdict later in the same transaction.
   */
  insertStatement(reports: NewReport[], options: { lock?: boolean } = {}) {
    const rows = reports.map((report) => ({
      id: report.id,
      kind: report.kind,
      centre_code: report.centreCode,
      table_number: report.table,
      observer_id: report.observerId,
      actor_role: report.role,
      scope: report.scope,
      observed_at: report.observedAt,
      form_version: report.formVersion,
      answers: report.answers,
      notes: report.notes,
      latitude: report.location?.lat ?? null,
      longitude: report.location?.lon ?? null,
      accuracy: report.location?.accuracy ?? null,
      hash: report.hash,
      flags: report.flags,
      registered_voters: report.registeredVoters,
      request_id: report.requestId,
      ip: report.ip,
    }));
    const locked = options.lock
      ? Prisma.sql`(SELECT count(*) FROM (${this.lockTables(reports.map(tableOf))}) l) locked,`
      : Prisma.empty;
    return Prisma.sql`
      WITH x AS (
        SELECT x.* FROM ${locked}
        jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
          id uuid, kind text, centre_code text, table_number int, observer_id uuid, actor_role text, scope text,
          observed_at timestamptz, form_version int, answers jsonb, notes text, latitude float8, longitude float8,
          accuracy float8, hash text, flags text[], registered_voters int, request_id text, ip text)
        ${rowCount(rows.length)}),
      ins AS (
        INSERT INTO reports (id, kind, centre_code, table_number, parish_code, municipality_code, state_code, observer_id,
                             observed_at, form_version, answers, notes, latitude, longitude, accuracy, submission_hash,
                             content_hash, flags, received_at)
        SELECT x.id, x.kind, c.code, x.table_number, c.parish_code, c.municipality_code, c.state_code, x.observer_id,
               x.observed_at, x.form_version, x.answers, x.notes, x.latitude, x.longitude, x.accuracy, x.hash, x.hash,
               CASE WHEN t.registered_voters <> x.registered_voters THEN x.flags || 'registered_voters_mismatch'::text
                    ELSE x.flags END,
               clock_timestamp()
        FROM x JOIN centres c ON c.code = x.centre_code
        LEFT JOIN polling_tables t ON t.centre_code = c.code AND t.number = x.table_number
        WHERE (x.table_number IS NULL OR t.number IS NOT NULL)
          -- the version it was validated against still takes reports (read here, not from a cache: exact across
          -- processes; a plain lookup, no foreign key, whose KEY SHARE locks would pile up on one row)
          AND EXISTS (SELECT 1 FROM form_versions f
                      WHERE f.form_key = x.kind AND f.version = x.form_version AND f.retired_at IS NULL)
          AND CASE WHEN x.actor_role = 'observer'
                   THEN EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = x.observer_id AND a.centre_code = c.code)
                   ELSE ${inRegion(Prisma.raw('x.scope'))} END
        -- one order for every statement, so that row locks taken by triggers on reports are taken in one order too
        ORDER BY c.state_code, c.municipality_code, c.parish_code, c.code, x.table_number, x.id
        ON CONFLICT (id) DO NOTHING
        RETURNING *),
      rev AS (
        INSERT INTO report_revisions (report_id, number, observed_at, answers, notes, latitude, longitude, accuracy,
                                      content_hash, author_id, created_at)
        SELECT id, 1, observed_at, answers, notes, latitude, longitude, accuracy, content_hash, observer_id, received_at
        FROM ins),
      accepted AS (
        SELECT ins.id, x.observer_id AS actor_id, x.actor_role, x.request_id, x.ip,
               jsonb_build_object('kind', x.kind, 'centre', x.centre_code, 'table', x.table_number, 'hash', x.hash)
                 AS details
        FROM ins JOIN x ON x.id = ins.id),
      aud AS (${audit.insertFromEach('accepted', { action: 'report.accepted', entityType: 'report' })})
      SELECT ${reportColumns}, true AS created FROM ins r
      UNION ALL
      SELECT ${reportColumns}, false FROM reports r JOIN x ON x.id = r.id`;
  },

  /** Serialises writes to the results of these tables (taken before the verdict, always in one order). */
  lockTables(tables: ResultsTable[]) {
    const keys = [...new Set(tables.map((table) => `${table.centreCode}#${table.table}`))];
    return Prisma.sql`
      SELECT pg_advisory_xact_lock(hashtext('testigo.results'), k.key)::text
      FROM (SELECT DISTINCT hashtext(key) AS key
            FROM jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb) AS key ORDER BY 1) k`;
  },

  /**
   * Marks every unrejected results report of these tables `conflict` when their numbers disagree, and clears
   * the mark when they agree (or the report is rejected). Answers the reports it changed.
   */
  conflictStatement(tables: ResultsTable[]) {
    const keys = JSON.stringify(tables.map((table) => ({ centre_code: table.centreCode, table_number: table.table })));
    return Prisma.sql`
      WITH verdict AS (
        SELECT k.centre_code, k.table_number, v.conflict
        FROM (SELECT DISTINCT * FROM jsonb_to_recordset(${keys}::jsonb)
                AS k(centre_code text, table_number int) ${rowCount(tables.length)}) k
        CROSS JOIN LATERAL (
          SELECT count(DISTINCT answers - 'citizenAudit') > 1 AS conflict FROM reports
          WHERE kind = 'results' AND centre_code = k.centre_code AND table_number = k.table_number
            AND review_state <> 'rejected') v)
      UPDATE reports r SET
        flags = CASE WHEN v.conflict AND r.review_state <> 'rejected'
                     THEN array_append(array_remove(r.flags, 'conflict'), 'conflict')
                     ELSE array_remove(r.flags, 'conflict') END,
        updated_at = now()
      FROM verdict v
      WHERE r.kind = 'results' AND r.centre_code = v.centre_code AND r.table_number = v.table_number
        AND ('conflict' = ANY (r.flags)) IS DISTINCT FROM (v.conflict AND r.review_state <> 'rejected')
      RETURNING r.id, r.flags, r.updated_at AS "updatedAt"`;
  },

  async find(db: Sql, id: string): Promise<ReportRow | undefined> {
    const rows = await db.$queryRaw<ReportRow[]>`SELECT ${reportColumns} FROM reports r WHERE r.id = ${id}::uuid`;
    return rows[0];
  },

  async findVisible(db: Sql, actor: Actor, id: string, lock = false): Promise<ReportRow | undefined> {
    const rows = await db.$queryRaw<ReportRow[]>`
      SELECT ${reportColumns} FROM reports r WHERE r.id = ${id}::uuid AND ${visibleReports(actor)}
      ${lock ? Prisma.sql`FOR UPDATE` : Prisma.empty}`;
    return rows[0];
  },

  async revisions(db: Sql, id: string, number?: number): Promise<RevisionRow[]> {
    return db.$queryRaw`
      SELECT number, observed_at AS "observedAt", answers, notes, latitude, longitude, accuracy,
             content_hash AS "contentHash", reason, author_id AS "authorId", created_at AS "createdAt"
      FROM report_revisions WHERE report_id = ${id}::uuid ${number ? Prisma.sql`AND number = ${number}` : Prisma.empty}
      ORDER BY number`;
  },

  async reviews(
    db: Sql,
    id: string,
  ): Promise<{ state: ReviewState; note: string | null; reviewerId: string; revision: number; createdAt: Date }[]> {
    return db.$queryRaw`
      SELECT state::text AS state, note, reviewer_id AS "reviewerId", revision, created_at AS "createdAt"
      FROM report_reviews WHERE report_id = ${id}::uuid ORDER BY id`;
  },

  /** Whether `userId` wrote any revision of the report (the first one included: its author). */
  async wroteRevision(db: Sql, id: string, userId: string): Promise<boolean> {
    const rows = await db.$queryRaw<{ wrote: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM report_revisions WHERE report_id = ${id}::uuid AND author_id = ${userId}::uuid)
               AS wrote`;
    return rows[0]?.wrote ?? false;
  },

  /**
   * Revision `next.number` of the report, if it is still at the one before: the new content, its revision row,
   * and the review state reset to unreviewed (new content has not been judged), with an audit row saying what
   * the state was (`previousReviewState`, `reviewReset`). Answers the report's id, or nothing if it was revised meanwhile.
   */
  reviseStatement(
    context: RequestContext,
    report: ReportRow,
    next: {
      number: number;
      observedAt: string;
      answers: Record<string, unknown>;
      notes: string | null;
      location: { lat: number; lon: number; accuracy: number | null } | null;
      hash: string;
      flags: string[];
      reason: string;
      authorId: string;
    },
  ) {
    const { location } = next;
    return Prisma.sql`
      WITH old AS (
        -- The row as it is when locked (a review committed meanwhile included), for the audit row.
        SELECT id, review_state::text AS review_state FROM reports
        WHERE id = ${report.id}::uuid AND revision = ${next.number - 1} FOR UPDATE),
      upd AS (
        UPDATE reports r SET
          observed_at = ${next.observedAt}::timestamptz, answers = ${JSON.stringify(next.answers)}::jsonb,
          notes = ${next.notes}, latitude = ${location?.lat ?? null}, longitude = ${location?.lon ?? null},
          accuracy = ${location?.accuracy ?? null}, content_hash = ${next.hash}, revision = ${next.number},
          flags = ${next.flags}::text[]
                  || CASE WHEN 'conflict' = ANY (r.flags) THEN ARRAY['conflict'] ELSE '{}'::text[] END,
          review_state = 'unreviewed', updated_at = now()
        FROM old WHERE r.id = old.id AND r.revision = ${next.number - 1}
        RETURNING r.id, old.review_state AS previous),
      rev AS (
        INSERT INTO report_revisions (report_id, number, observed_at, answers, notes, latitude, longitude, accuracy,
                                      content_hash, reason, author_id)
        SELECT id, ${next.number}, ${next.observedAt}::timestamptz, ${JSON.stringify(next.answers)}::jsonb,
               ${next.notes}, ${location?.lat ?? null}, ${location?.lon ?? null}, ${location?.accuracy ?? null},
               ${next.hash}, ${next.reason}, ${next.authorId}::uuid FROM upd),
      revised AS (
        SELECT id, ${context.actor?.userId ?? null}::uuid AS actor_id,
               ${context.actor?.role ?? null}::text AS actor_role,
               ${context.requestId}::text AS request_id, ${context.ip}::text AS ip,
               ${JSON.stringify({ revision: next.number, reason: next.reason, hash: next.hash })}::jsonb
                 || jsonb_build_object('reviewReset', previous <> 'unreviewed', 'previousReviewState', previous)
                 AS details
        FROM upd),
      aud AS (${audit.insertFromEach('revised', { action: 'report.revised', entityType: 'report' })})
      SELECT id FROM upd`;
  },

  /**
   * Review `state` of revision `revision` of the report by `reviewerId`: the report's state, the review row
   * (with the revision judged) and the audit row, in one statement, and none of them when the report is at
   * another revision, already in this state (a retried click, or two at once), or was written (any
   * revision) by the reviewer. Answers the report's id if the review was recorded.
   */
  reviewStatement(
    context: RequestContext,
    reportId: string,
    review: { state: string; note: string | null; reviewerId: string; revision: number },
  ) {
    const auditRow = audit.insertFrom(context, 'upd', {
      action: 'report.reviewed',
      entityType: 'report',
      details: { state: review.state, note: review.note, revision: review.revision },
    });
    return Prisma.sql`
      WITH upd AS (
        UPDATE reports r SET review_state = ${review.state}::review_state, updated_at = now()
        WHERE r.id = ${reportId}::uuid AND r.revision = ${review.revision}
          AND r.review_state IS DISTINCT FROM ${review.state}::review_state
          AND r.observer_id <> ${review.reviewerId}::uuid
          AND NOT EXISTS (SELECT 1 FROM report_revisions v
                          WHERE v.report_id = r.id AND v.author_id = ${review.reviewerId}::uuid)
        RETURNING r.id, r.revision),
      rev AS (
        INSERT INTO report_reviews (report_id, state, note, reviewer_id, revision)
        SELECT id, ${review.state}::review_state, ${review.note}, ${review.reviewerId}::uuid, revision FROM upd),
      aud AS (${auditRow})
      SELECT id FROM upd`;
  },

  async list(db: Sql, actor: Actor, filter: ReportFilter, limit: number): Promise<ReportRow[]> {
    return db.$queryRaw(this.listStatement(actor, filter, limit));
  },

  /** The reports `actor` may read that match `filter`, newest first (by receivedAt, then id), at most `limit`. */
  listStatement(actor: Actor, filter: ReportFilter, limit: number): Prisma.Sql {
    const time = filter.time === 'observed' ? Prisma.raw('r.observed_at') : Prisma.raw('r.received_at');
    const conditions = [
      visibleReports(actor),
      filter.region ? inRegion(filter.region, Prisma.raw('r')) : undefined,
      filter.centre ? Prisma.sql`r.centre_code = ${filter.centre}` : undefined,
      filter.table !== undefined ? Prisma.sql`r.table_number = ${filter.table}` : undefined,
      filter.kind ? Prisma.sql`r.kind = ${filter.kind}` : undefined,
      filter.review ? Prisma.sql`r.review_state = ${filter.review}::review_state` : undefined,
      filter.flag
        ? filter.flag === 'any'
          ? Prisma.sql`cardinality(r.flags) > 0`
          : Prisma.sql`${filter.flag} = ANY (r.flags)`
        : undefined,
      filter.observer ? Prisma.sql`r.observer_id = ${filter.observer}::uuid` : undefined,
      filter.since ? Prisma.sql`${time} >= ${filter.since}` : undefined,
      filter.until ? Prisma.sql`${time} < ${filter.until}` : undefined,
      filter.before ? Prisma.sql`(r.received_at, r.id) < (${filter.before.at}, ${filter.before.id}::uuid)` : undefined,
    ].filter((condition): condition is Prisma.Sql => condition !== undefined);
    return Prisma.sql`
      SELECT ${reportColumns} FROM reports r WHERE ${Prisma.join(conditions, ' AND ')}
      ORDER BY r.received_at DESC, r.id DESC LIMIT ${limit}`;
  },
};

/** A stored report as an insert answers it: stored by that insert (`created`), or earlier. */
export type StoredRow = ReportRow & { created: boolean };
type Revision = Parameters<typeof reportsRepository.reviseStatement>[2];
type Review = Parameters<typeof reportsRepository.reviewStatement>[2];

/**
 * The reports repository on `prisma`: every read, and every write as one statement or one transaction (what
 * the reports service is given; it never sees the client). New reports are inserted on `pool` (the pool under
 * `prisma`) as prepared statements: through Prisma every insert was parsed and planned again, which cost
 * PostgreSQL about as much as running it (EXPLAIN: 0.6–1.1 ms of planning for the insert of 1 to 5 reports,
 * 0.45 ms for the verdict), and Prisma's conversion of the rows cost the server too.
 */
export function createReportsRepository(prisma: PrismaClient, options: { pool: pg.Pool; reads?: Query }) {
  const r = reportsRepository;
  const reads: Query = options.reads ?? (<T>(sql: Prisma.Sql) => prisma.$queryRaw<T[]>(sql));
  const writes = preparedQuery(options.pool);
  /**
   * A write of one report, inside the locks of its results table when it has one, whose verdict it recomputes;
   * run again when PostgreSQL aborts it for concurrency (retryAborted), as every write here.
   */
  function onTable(
    report: { kind: ReportKind; centreCode: string; tableNumber: number | null },
    statement: Prisma.Sql,
  ) {
    return retryAborted(async () => {
      if (report.kind !== 'results' || report.tableNumber === null)
        return prisma.$queryRaw<{ id: string }[]>(statement);
      const table = [{ centreCode: report.centreCode, table: report.tableNumber }];
      const [, rows] = await prisma.$transaction([
        prisma.$queryRaw(r.lockTables(table)),
        prisma.$queryRaw<{ id: string }[]>(statement),
        prisma.$queryRaw(r.conflictStatement(table)),
      ]);
      return rows;
    });
  }

  return {
    centreFacts: (
      centreCode: string,
      table: number | null,
      userId: string,
      reportId: string,
      form?: { kind: string; version: number },
    ) => r.centreFacts(prisma, centreCode, table, userId, reportId, form),
    find: (id: string) => r.find(prisma, id),
    findVisible: (actor: Actor, id: string) => r.findVisible(prisma, actor, id),
    revisions: (id: string, number?: number) => r.revisions(prisma, id, number),
    reviews: (id: string) => r.reviews(prisma, id),
    wroteRevision: (id: string, userId: string) => r.wroteRevision(prisma, id, userId),
    list: (actor: Actor, filter: ReportFilter, limit: number) => r.list(prisma, actor, filter, limit),
    /** A page of `list` on the `reads` query runner (the read pool, for exports). */
    exportPage: (actor: Actor, filter: ReportFilter, limit: number) =>
      reads<ReportRow>(r.listStatement(actor, filter, limit)),

    /**
     * Inserts distinct reports in one statement; results in one transaction of two, which locks their tables and
     * inserts, then recomputes the conflict verdict of those tables, whose changes the answered rows include.
     */
    insertBatch(reports: NewReport[], results: boolean): Promise<StoredRow[]> {
      return retryAborted(async () => {
        if (!results) return writes<StoredRow>(r.insertStatement(reports));
        // The verdict runs after the locks are held, so it sees every report committed by those who held them before.
        const [found, changed] = await preparedTransaction(options.pool, async (query) => [
          await query<StoredRow>(r.insertStatement(reports, { lock: true })),
          await query<{ id: string; flags: string[]; updatedAt: Date }>(r.conflictStatement(reports.map(tableOf))),
        ]);
        const verdicts = new Map(changed.map((row) => [row.id, row]));
        return found.map((row) => ({ ...row, ...verdicts.get(row.id) }));
      });
    },

    /** Records revision `next.number` (with the table's verdict for results); false if revised meanwhile. */
    async revise(context: RequestContext, report: ReportRow, next: Revision): Promise<boolean> {
      return (await onTable(report, r.reviseStatement(context, report, next))).length > 0;
    },

    /** Records a review (with the table's verdict for results); false if nothing was recorded (see reviewStatement). */
    async review(context: RequestContext, report: ReportRow, review: Review): Promise<boolean> {
      return (await onTable(report, r.reviewStatement(context, report.id, review))).length > 0;
    },
  };
}

export type ReportsRepository = ReturnType<typeof createReportsRepository>;
