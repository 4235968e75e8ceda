// SQL of reports: the one-statement insert (report, first revision, audit row) that the primary key makes
// retry-safe, the per-table conflict verdict of results, revisions, reviews and filtered reads.
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { Actor, RequestContext } from '../../infra/auth/actor.js';
import { visibleReports } from '../../infra/auth/policy.js';
import { auditRepository as audit } from '../audit/audit.repository.js';
import type { ReportKind } from './forms.js';

type Sql = PrismaClient | Prisma.TransactionClient;
export type ReviewState = 'unreviewed' | 'verified' | 'flagged' | 'rejected';

export interface ReportRow {
  id: string; kind: ReportKind; centreCode: string; tableNumber: number | null; stateCode: string; municipalityCode: string; parishCode: string;
  observerId: string; observedAt: Date; receivedAt: Date; formVersion: number; answers: Record<string, unknown>; notes: string | null;
  latitude: number | null; longitude: number | null; accuracy: number | null; submissionHash: string; contentHash: string;
  revision: number; reviewState: ReviewState; flags: string[]; updatedAt: Date;
}
export interface RevisionRow {
  number: number; observedAt: Date; answers: Record<string, unknown>; notes: string | null; latitude: number | null; longitude: number | null;
  accuracy: number | null; contentHash: string; reason: string | null; authorId: string; createdAt: Date;
}
export interface CentreFacts {
  code: string; parishCode: string; municipalityCode: string; stateCode: string; tableVoters: number | null; assigned: boolean;
  /** The submission hash of a report already stored under the id being submitted (a retry), if any. */
  existingHash: string | null;
}

export interface NewReport {
  id: string; kind: ReportKind; centre: CentreFacts; table: number | null; observerId: string; observedAt: string; formVersion: number;
  answers: Record<string, unknown>; notes: string | null; location: { lat: number; lon: number; accuracy: number | null } | null;
  hash: string; flags: string[];
}

export interface ReportFilter {
  region?: string; centre?: string; table?: number; kind?: ReportKind; review?: string; flag?: string; observer?: string;
  since?: Date; until?: Date; time: 'received' | 'observed'; before?: { at: Date; id: string };
}

const reportColumns = Prisma.sql`
  r.id, r.kind::text AS kind, r.centre_code AS "centreCode", r.table_number AS "tableNumber", r.state_code AS "stateCode",
  r.municipality_code AS "municipalityCode", r.parish_code AS "parishCode", r.observer_id AS "observerId", r.observed_at AS "observedAt",
  r.received_at AS "receivedAt", r.form_version AS "formVersion", r.answers, r.notes, r.latitude, r.longitude, r.accuracy,
  r.submission_hash AS "submissionHash", r.content_hash AS "contentHash", r.revision, r.review_state::text AS "reviewState", r.flags,
  r.updated_at AS "updatedAt"`;

export const reportsRepository = {
  /** What a submission needs to know, in one round trip: the centre, its table, the assignment, and a stored retry. */
  async centreFacts(db: Sql, centreCode: string, table: number | null, userId: string, reportId: string): Promise<CentreFacts | undefined> {
    const rows = await db.$queryRaw<(CentreFacts & { code: string | null })[]>`
      SELECT c.code, c.parish_code AS "parishCode", c.municipality_code AS "municipalityCode", c.state_code AS "stateCode",
             (SELECT t.registered_voters FROM polling_tables t WHERE t.centre_code = c.code AND t.number = ${table}) AS "tableVoters",
             EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = ${userId}::uuid AND a.centre_code = c.code) AS assigned,
             (SELECT r.submission_hash FROM reports r WHERE r.id = ${reportId}::uuid) AS "existingHash"
      FROM (SELECT 1) one LEFT JOIN centres c ON c.code = ${centreCode}`;
    return rows[0];
  },

  /** One statement: the report, its revision 1 and its audit row; nothing when the id exists (a retry). */
  insertStatement(context: RequestContext, report: NewReport) {
    const { centre, location } = report;
    return Prisma.sql`
      WITH ins AS (
        INSERT INTO reports (id, kind, centre_code, table_number, parish_code, municipality_code, state_code, observer_id, observed_at,
                             form_version, answers, notes, latitude, longitude, accuracy, submission_hash, content_hash, flags, received_at)
        VALUES (${report.id}::uuid, ${report.kind}::report_kind, ${centre.code}, ${report.table}, ${centre.parishCode}, ${centre.municipalityCode},
                ${centre.stateCode}, ${report.observerId}::uuid, ${report.observedAt}::timestamptz, ${report.formVersion},
                ${JSON.stringify(report.answers)}::jsonb, ${report.notes}, ${location?.lat ?? null}, ${location?.lon ?? null},
                ${location?.accuracy ?? null}, ${report.hash}, ${report.hash}, ${report.flags}::text[], clock_timestamp())
        ON CONFLICT (id) DO NOTHING
        RETURNING *),
      rev AS (
        INSERT INTO report_revisions (report_id, number, observed_at, answers, notes, latitude, longitude, accuracy, content_hash, author_id, created_at)
        SELECT id, 1, ${report.observedAt}::timestamptz, ${JSON.stringify(report.answers)}::jsonb, ${report.notes}, ${location?.lat ?? null},
               ${location?.lon ?? null}, ${location?.accuracy ?? null}, ${report.hash}, ${report.observerId}::uuid, received_at FROM ins),
      aud AS (${audit.insertFrom(context, 'ins', { action: 'report.accepted', entityType: 'report', details: { kind: report.kind, centre: centre.code, table: report.table, hash: report.hash } })})
      SELECT ${reportColumns} FROM ins r`;
  },

  /** Serialises writes to one table's results (taken first in the transaction). */
  lockTable(centreCode: string, table: number) {
    return Prisma.sql`SELECT pg_advisory_xact_lock(hashtext('testigo.results'), hashtext(${`${centreCode}#${table}`}))::text`;
  },

  /**
   * Marks every unrejected results report of a table `conflict` when their numbers disagree, and clears the
   * mark when they agree (or the report is rejected).
   */
  conflictStatement(centreCode: string, table: number) {
    return Prisma.sql`
      WITH verdict AS (
        SELECT count(DISTINCT answers - 'citizenAudit') > 1 AS conflict FROM reports
        WHERE kind = 'results' AND centre_code = ${centreCode} AND table_number = ${table} AND review_state <> 'rejected')
      UPDATE reports r SET
        flags = CASE WHEN v.conflict AND r.review_state <> 'rejected' THEN array_append(array_remove(r.flags, 'conflict'), 'conflict')
                     ELSE array_remove(r.flags, 'conflict') END,
        updated_at = now()
      FROM verdict v
      WHERE r.kind = 'results' AND r.centre_code = ${centreCode} AND r.table_number = ${table}
        AND ('conflict' = ANY (r.flags)) IS DISTINCT FROM (v.conflict AND r.review_state <> 'rejected')`;
  },

  async find(db: Sql, id: string): Promise<ReportRow | undefined> {
    const rows = await db.$queryRaw<ReportRow[]>`SELECT ${reportColumns} FROM reports r WHERE r.id = ${id}::uuid`;
    return rows[0];
  },

  async findVisible(db: Sql, actor: Actor, id: string, lock = false): Promise<ReportRow | undefined> {
    const rows = await db.$queryRaw<ReportRow[]>`
      SELECT ${reportColumns} FROM reports r WHERE r.id = ${id}::uuid AND ${visibleReports(actor)} ${lock ? Prisma.sql`FOR UPDATE` : Prisma.empty}`;
    return rows[0];
  },

  async revisions(db: Sql, id: string, number?: number): Promise<RevisionRow[]> {
    return db.$queryRaw`
      SELECT number, observed_at AS "observedAt", answers, notes, latitude, longitude, accuracy, content_hash AS "contentHash", reason,
             author_id AS "authorId", created_at AS "createdAt"
      FROM report_revisions WHERE report_id = ${id}::uuid ${number ? Prisma.sql`AND number = ${number}` : Prisma.empty} ORDER BY number`;
  },

  async reviews(db: Sql, id: string): Promise<{ state: ReviewState; note: string | null; reviewerId: string; createdAt: Date }[]> {
    return db.$queryRaw`
      SELECT state::text AS state, note, reviewer_id AS "reviewerId", created_at AS "createdAt"
      FROM report_reviews WHERE report_id = ${id}::uuid ORDER BY id`;
  },

  reviseStatement(context: RequestContext, report: ReportRow, next: {
    number: number; observedAt: string; answers: Record<string, unknown>; notes: string | null;
    location: { lat: number; lon: number; accuracy: number | null } | null; hash: string; flags: string[]; reason: string; authorId: string;
  }) {
    const { location } = next;
    return Prisma.sql`
      WITH upd AS (
        UPDATE reports SET observed_at = ${next.observedAt}::timestamptz, answers = ${JSON.stringify(next.answers)}::jsonb, notes = ${next.notes},
          latitude = ${location?.lat ?? null}, longitude = ${location?.lon ?? null}, accuracy = ${location?.accuracy ?? null},
          content_hash = ${next.hash}, revision = ${next.number}, flags = ${next.flags}::text[] || CASE WHEN 'conflict' = ANY (flags) THEN ARRAY['conflict'] ELSE '{}'::text[] END,
          updated_at = now()
        WHERE id = ${report.id}::uuid AND revision = ${next.number - 1}
        RETURNING id),
      rev AS (
        INSERT INTO report_revisions (report_id, number, observed_at, answers, notes, latitude, longitude, accuracy, content_hash, reason, author_id)
        SELECT id, ${next.number}, ${next.observedAt}::timestamptz, ${JSON.stringify(next.answers)}::jsonb, ${next.notes}, ${location?.lat ?? null},
               ${location?.lon ?? null}, ${location?.accuracy ?? null}, ${next.hash}, ${next.reason}, ${next.authorId}::uuid FROM upd),
      aud AS (${audit.insertFrom(context, 'upd', { action: 'report.revised', entityType: 'report', details: { revision: next.number, reason: next.reason, hash: next.hash } })})
      SELECT id FROM upd`;
  },

  reviewStatement(context: RequestContext, reportId: string, review: { state: string; note: string | null; reviewerId: string }) {
    return Prisma.sql`
      WITH upd AS (
        UPDATE reports SET review_state = ${review.state}::review_state, updated_at = now() WHERE id = ${reportId}::uuid RETURNING id),
      rev AS (
        INSERT INTO report_reviews (report_id, state, note, reviewer_id) SELECT id, ${review.state}::review_state, ${review.note}, ${review.reviewerId}::uuid FROM upd),
      aud AS (${audit.insertFrom(context, 'upd', { action: 'report.reviewed', entityType: 'report', details: { state: review.state, note: review.note } })})
      SELECT id FROM upd`;
  },

  async list(db: Sql, actor: Actor, filter: ReportFilter, limit: number): Promise<ReportRow[]> {
    const time = filter.time === 'observed' ? Prisma.raw('r.observed_at') : Prisma.raw('r.received_at');
    const conditions = [
      visibleReports(actor),
      filter.region ? Prisma.sql`${filter.region} IN (r.state_code, r.municipality_code, r.parish_code)` : undefined,
      filter.centre ? Prisma.sql`r.centre_code = ${filter.centre}` : undefined,
      filter.table !== undefined ? Prisma.sql`r.table_number = ${filter.table}` : undefined,
      filter.kind ? Prisma.sql`r.kind = ${filter.kind}::report_kind` : undefined,
      filter.review ? Prisma.sql`r.review_state = ${filter.review}::review_state` : undefined,
      filter.flag ? (filter.flag === 'any' ? Prisma.sql`cardinality(r.flags) > 0` : Prisma.sql`${filter.flag} = ANY (r.flags)`) : undefined,
      filter.observer ? Prisma.sql`r.observer_id = ${filter.observer}::uuid` : undefined,
      filter.since ? Prisma.sql`${time} >= ${filter.since}` : undefined,
      filter.until ? Prisma.sql`${time} < ${filter.until}` : undefined,
      filter.before ? Prisma.sql`(r.received_at, r.id) < (${filter.before.at}, ${filter.before.id}::uuid)` : undefined,
    ].filter((condition): condition is Prisma.Sql => condition !== undefined);
    return db.$queryRaw`
      SELECT ${reportColumns} FROM reports r WHERE ${Prisma.join(conditions, ' AND ')}
      ORDER BY r.received_at DESC, r.id DESC LIMIT ${limit}`;
  },
};
