// Observation reports: validation against the kind's form, plausibility flags, retry-safe creation (the
// primary key decides), revisions, reviews and reads. Each write is one transaction with its audit row.
import type { Actor, RequestContext } from '../../infra/auth/actor.js';
import { centreInScope, mayModifyReport, mayReadReport } from '../../infra/auth/policy.js';
import { translateDatabaseError } from '../../infra/db/errors.js';
import { microBatch } from '../../infra/db/micro-batch.js';
import { AppError, type ProblemDetailItem } from '../../infra/errors.js';
import { pageOf } from '../../infra/http/pagination.js';
import { toAppError } from '../../infra/http/problems.js';
import type { Election, ElectionService } from '../election/election.service.js';
import type { FormsService, ResolvedForm } from '../forms/forms.service.js';
import type { LogService, Receipt } from '../log/log.service.js';
import { contentHash, differingFields, type ReportContent } from './canonical.js';
import type { ReportKind, ResultsAnswers } from './forms.js';
import type {
  CentreFacts,
  NewReport,
  ReportFilter,
  ReportRow,
  ReportsRepository,
  RevisionRow,
  StoredRow,
} from './reports.repository.js';

type ActorContext = RequestContext & { actor: Actor };
type Location = { lat: number; lon: number; accuracy?: number | undefined };
/** Runs the slow path of a submission (a retry, a refusal): the batch route passes a limit on how many at once. */
export type Fallback = <T>(work: () => Promise<T>) => Promise<T>;

/** Batch items on the slow path (retries, refusals) at once: enough to overlap round trips, few enough to leave the pool to others. */
const BATCH_FALLBACK_CONCURRENCY = 4;

/** Runs at most `n` of the works given to it at once; the others wait their turn. */
export function limiter(n: number): Fallback {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (active < n) active += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}

/** One item of a batch as answered: its report, or the problem that refused it (or that the server hit: `error`). */
export type BatchOutcome<Report> = { index: number; id: string | null } & (
  | { status: 'created' | 'replayed'; httpStatus: 200 | 201; report: Report; receipt: Receipt }
  | { status: 'conflict' | 'invalid' | 'error'; httpStatus: number; problem: AppError; cause: unknown }
);

export interface ReportInput {
  id: string;
  kind: ReportKind;
  /** The form version the phone rendered; default: the form's current one. */
  formVersion?: number | undefined;
  centreCode: string;
  table?: number | undefined;
  observedAt: string;
  answers: Record<string, unknown>;
  notes?: string | undefined;
  location?: Location | undefined;
}
export interface RevisionInput {
  observedAt?: string | undefined;
  answers: Record<string, unknown>;
  notes?: string | null | undefined;
  location?: Location | null | undefined;
  reason: string;
}

const iso = (date: Date) => date.toISOString();
const normaliseLocation = (location: Location | null | undefined) =>
  location ? { lat: location.lat, lon: location.lon, accuracy: location.accuracy ?? null } : null;
/** The location columns of a stored row as an answer's `location` (null unless both coordinates are known). */
export function locationOf<R extends { latitude: number | null; longitude: number | null; accuracy?: number | null }>(
  row: R,
) {
  if (row.latitude === null || row.longitude === null) return null;
  type Answer = R extends { accuracy: number | null }
    ? { lat: number; lon: number; accuracy: number | null }
    : { lat: number; lon: number };
  return (
    row.accuracy === undefined
      ? { lat: row.latitude, lon: row.longitude }
      : { lat: row.latitude, lon: row.longitude, accuracy: row.accuracy }
  ) as Answer;
}

export function toReport(row: ReportRow) {
  return {
    id: row.id,
    kind: row.kind,
    centreCode: row.centreCode,
    table: row.tableNumber,
    region: { stateCode: row.stateCode, municipalityCode: row.municipalityCode, parishCode: row.parishCode },
    observerId: row.observerId,
    observedAt: iso(row.observedAt),
    receivedAt: iso(row.receivedAt),
    formVersion: row.formVersion,
    answers: row.answers,
    notes: row.notes,
    location: locationOf(row),
    submissionHash: row.submissionHash,
    contentHash: row.contentHash,
    revision: row.revision,
    reviewState: row.reviewState,
    flags: row.flags,
    updatedAt: iso(row.updatedAt),
  };
}

export const toRevision = (row: RevisionRow) => ({
  number: row.number,
  observedAt: iso(row.observedAt),
  answers: row.answers,
  notes: row.notes,
  location: locationOf(row),
  contentHash: row.contentHash,
  reason: row.reason,
  authorId: row.authorId,
  createdAt: iso(row.createdAt),
});

function invalid(errors: ProblemDetailItem[]): AppError {
  return new AppError('REPORT_INVALID', errors.map((error) => error.message).join('; '), { errors });
}

/** Plausibility of a tally sheet: reasons to look again, never reasons to refuse it. */
export function resultsFlags(answers: ResultsAnswers, tableVoters: number | null): string[] {
  const flags: string[] = [];
  const sum = Object.values(answers.votes).reduce((total, votes) => total + votes, 0);
  if (sum !== answers.validVotes) flags.push('votes_sum_mismatch');
  if (answers.validVotes + answers.nullVotes + (answers.blankVotes ?? 0) > answers.registeredVoters)
    flags.push('over_registered');
  if (tableVoters !== null && tableVoters !== answers.registeredVoters) flags.push('registered_voters_mismatch');
  return flags;
}

export interface ReportsServiceDeps {
  repo: ReportsRepository;
  election: Pick<ElectionService, 'current' | 'find'>;
  /** The forms reports are validated against (compiled and cached there). */
  forms: Pick<FormsService, 'resolve' | 'exists'>;
  /** A report's photos as `actor` sees them (given by the wiring: photos are a feature on top of reports). */
  photosOf: (actor: Actor, reportId: string) => Promise<object[]>;
  /** The log's receipts of what was accepted (given by the wiring). */
  receipts: Pick<LogService, 'ofReport' | 'ofStored'>;
  maxClockSkewMs: number;
  /** Insert statements of new reports in flight at once per lane (results, the other forms); default 2. */
  writesInFlight?: number;
}

export function createReportsService(deps: ReportsServiceDeps) {
  const { repo, election: elections, forms } = deps;
  const options = { maxClockSkewMs: deps.maxClockSkewMs };

  /** Rules of the content that need no database: the time, and the candidates of a results report. */
  function contentProblems(
    role: string | null,
    observedAt: string,
    answers: Record<string, unknown>,
    election: Election | undefined,
  ): ProblemDetailItem[] {
    const problems: ProblemDetailItem[] = [];
    if (Date.parse(observedAt) > Date.now() + options.maxClockSkewMs)
      problems.push({ in: 'body', path: 'observedAt', message: 'observedAt is in the future' });
    if (role === 'results') {
      if (!election)
        throw new AppError(
          'ELECTION_NOT_SET',
          'Results need the election and its candidates: an admin must PUT /v1/election',
        );
      const known = new Set(election.candidates.map((candidate) => candidate.code));
      for (const code of Object.keys((answers as ResultsAnswers).votes)) {
        if (!known.has(code))
          problems.push({
            in: 'body',
            path: `answers.votes.${code}`,
            message: `${code} is not a candidate of the election`,
          });
      }
    }
    return problems;
  }

  /** Rules that depend on the registry, the election and the caller; problems are collected, then thrown. */
  function check(
    actor: Actor,
    role: string | null,
    table: number | null,
    observedAt: string,
    answers: Record<string, unknown>,
    centre: CentreFacts,
    election: Election | undefined,
  ) {
    const problems: ProblemDetailItem[] = [];
    if (actor.role === 'observer' && !centre.assigned)
      problems.push({ in: 'body', path: 'centreCode', message: `Centre ${centre.code} is not assigned to you` });
    if (actor.role !== 'observer' && !centreInScope(actor, centre))
      problems.push({ in: 'body', path: 'centreCode', message: `Centre ${centre.code} is outside your region` });
    if (table !== null && centre.tableVoters === null)
      problems.push({ in: 'body', path: 'table', message: `Centre ${centre.code} has no table ${table}` });
    problems.push(...contentProblems(role, observedAt, answers, election));
    if (problems.length > 0) throw invalid(problems);
  }

  /**
   * Inserts the reports of concurrent submissions together (see NewReport and insertStatement for what leaves one
   * out): one statement, or for results one transaction of two, which locks their tables and inserts, then
   * recomputes the conflict verdict of those tables, whose changes the answered rows include. An id sent twice
   * is inserted once.
   */
  async function insertReports(reports: NewReport[], results: boolean): Promise<(StoredRow | undefined)[]> {
    const owners = new Map<string, NewReport>();
    for (const report of reports) if (!owners.has(report.id.toLowerCase())) owners.set(report.id.toLowerCase(), report);
    const rows = await repo.insertBatch([...owners.values()], results);
    const byId = new Map(rows.map((row) => [row.id, row]));
    // A repeated id is answered by the report its first occurrence stored, as a retry.
    return reports.map((report) => {
      const row = byId.get(report.id.toLowerCase());
      return row && owners.get(report.id.toLowerCase()) !== report ? { ...row, created: false } : row;
    });
  }
  // Up to `writesInFlight` statements of each lane in flight (REPORT_WRITES_IN_FLIGHT): under load, each carries the
  // submissions that arrived while the previous ones ran. Fewer statements carry more reports each: per statement,
  // PostgreSQL pays the summaries' recount and the log's queue once, and concurrent statements on the same
  // centres wait for one another's tally rows. On the 2-core machines here, 2 in flight took 4–29 % (mean 14 %) more
  // single reports/s than 4 in four interleaved pairs of `npm run bench -- ingest`, with less CPU a report.
  // A database that is down or too slow (statement timeout) would fail each report alone just the same.
  const lane = {
    maxItems: 200,
    maxInFlight: deps.writesInFlight ?? 2,
    retryAlone: (error: unknown) => translateDatabaseError(error)?.code !== 'DATABASE_UNAVAILABLE',
  };
  const insertOthers = microBatch({ ...lane, write: (reports: NewReport[]) => insertReports(reports, false) });
  const insertResults = microBatch({ ...lane, write: (reports: NewReport[]) => insertReports(reports, true) });
  const insert = (report: NewReport, form: ResolvedForm) =>
    form.role === 'results' ? insertResults(report) : insertOthers(report);

  /**
   * The form of a submission and its answers parsed by it. A report sent without `formVersion` whose answers the
   * current version refuses may be the retry of one stored under an earlier version: then that version parses it
   * (and the stored report answers it, if it is the same).
   */
  async function formAndAnswers(input: ReportInput) {
    const form = await forms.resolve(input.kind, input.formVersion);
    try {
      return { form, answers: form.parse(input.answers) };
    } catch (error) {
      if (input.formVersion !== undefined) throw error;
      const stored = await repo.find(input.id);
      if (!stored || stored.kind !== input.kind || stored.formVersion === form.version) throw error;
      const earlier = await forms.resolve(input.kind, stored.formVersion);
      try {
        return { form: earlier, answers: earlier.parse(input.answers) };
      } catch {
        throw error;
      }
    }
  }

  /** A filter's kind must name a form: 400 VALIDATION_FAILED otherwise, as for a report. */
  async function knownKind(filter: ReportFilter) {
    if (filter.kind !== undefined && !(await forms.exists(filter.kind))) {
      const message = `${filter.kind} is not a form (GET /v1/forms)`;
      throw new AppError('VALIDATION_FAILED', `kind: ${message}`, {
        errors: [{ in: 'querystring', path: 'kind', message }],
      });
    }
  }

  /** The receipt of the report's current revision (revision 1: the report's own). */
  const receiptOfRevision = async (report: { id: string; revision: number }) =>
    (await deps.receipts.ofStored({ type: 'revision', reportId: report.id, revision: report.revision })) ?? null;
  /** A review's answer with the receipt of the report's latest review (none before any). */
  const withReviewReceipt = async <D extends { id: string }>(detail: D) => ({
    ...detail,
    receipt: (await deps.receipts.ofStored({ type: 'review', reportId: detail.id })) ?? null,
  });

  async function view(id: string) {
    const row = await repo.find(id);
    if (!row) throw new AppError('NOT_FOUND', `Report ${id} does not exist`);
    return toReport(row);
  }

  /**
   * 409 for an id taken by a report the caller may not read: whatever the body, it learns nothing about that
   * report (neither its content nor what differs from it).
   */
  const taken = (id: string) =>
    new AppError('REPORT_CONFLICT', `The id ${id} is already taken; send the report under a new id`);

  /**
   * The stored original, when `id` exists: 200 with the report if `hash` matches, 409 naming the differences if
   * not; 409 with nothing about it if `actor` may not read it.
   */
  async function replay(actor: Actor, id: string, hash: string, content: ReportContent) {
    const row = await repo.find(id);
    if (!row) return undefined;
    if (!mayReadReport(actor, row)) throw taken(id);
    if (row.submissionHash === hash) return { status: 'replayed' as const, report: toReport(row) };
    const [original] = await repo.revisions(id, 1);
    const stored: ReportContent = {
      kind: row.kind,
      centreCode: row.centreCode,
      table: row.tableNumber,
      observedAt: iso(original!.observedAt),
      answers: original!.answers,
      notes: original!.notes,
      location: locationOf(original!),
    };
    const fields = differingFields(stored, content);
    throw new AppError('REPORT_CONFLICT', `Report ${id} exists with other content: ${fields.join(', ')}`, { fields });
  }

  /**
   * Creates a report, or replays the stored one for a retry of the same content. The common case is one
   * insert that checks the registry and the caller itself; what it leaves out takes the slow path, which
   * finds the reason (a retry, a rule broken) and only then inserts.
   */
  async function submitOne(
    context: ActorContext,
    input: ReportInput,
    election?: Election | null,
    fallback: Fallback = (work) => work(),
  ): Promise<{ status: 'created' | 'replayed'; report: ReturnType<typeof toReport> }> {
    const { actor } = context;
    const table = input.table ?? null;
    const { form, answers } = await formAndAnswers(input);
    if (form.unit === 'table' && table === null) {
      const message = `required for ${form.key} (a form about a table)`;
      throw new AppError('VALIDATION_FAILED', `table: ${message}`, {
        errors: [{ in: 'body', path: 'table', message }],
      });
    }
    const results = form.role === 'results';
    const content: ReportContent = {
      kind: input.kind,
      centreCode: input.centreCode,
      table,
      observedAt: new Date(input.observedAt).toISOString(),
      answers,
      notes: input.notes ?? null,
      location: normaliseLocation(input.location),
    };
    const hash = contentHash(content);
    const current = election === undefined ? await elections.current() : (election ?? undefined);
    const report: NewReport = {
      id: input.id,
      kind: input.kind,
      centreCode: input.centreCode,
      table,
      observedAt: content.observedAt,
      formVersion: form.version,
      answers,
      notes: content.notes,
      location: content.location,
      hash,
      flags: results ? resultsFlags(answers as ResultsAnswers, null) : [],
      registeredVoters: results ? (answers as ResultsAnswers).registeredVoters : null,
      observerId: actor.userId,
      role: actor.role,
      scope: actor.role === 'admin' ? null : actor.scopeRegionCode,
      requestId: context.requestId,
      ip: context.ip,
    };
    if (
      !form.retired &&
      (!results || current) &&
      contentProblems(form.role, content.observedAt, answers, current).length === 0
    ) {
      const stored = await insert(report, form);
      if (stored?.created) return { status: 'created', report: toReport(stored) };
      // The insert answers a stored report to anyone who sends its id: only a reader of it may see it.
      if (stored && !mayReadReport(actor, stored)) throw taken(input.id);
      if (stored?.submissionHash === hash) return { status: 'replayed', report: toReport(stored) };
    }
    return fallback(async () => {
      const facts = await repo.centreFacts(input.centreCode, table, actor.userId, input.id, {
        kind: form.key,
        version: form.version,
      });
      // A retry of a report stored earlier is answered from the store, without the write (nor the rules,
      // which may have changed since). The primary key still decides between concurrent first sends.
      if (facts?.existingHash) {
        const earlier = await replay(actor, input.id, hash, content);
        if (earlier) return earlier;
      }
      // Retired since it was rendered (this process may not have heard yet): exact, read with the facts.
      if (facts?.formRetired !== false)
        throw new AppError(
          facts?.formRetired ? 'FORM_VERSION_RETIRED' : 'FORM_VERSION_UNKNOWN',
          facts?.formRetired
            ? `Version ${form.version} of form ${form.key} is retired: fill in its current version (GET /v1/forms)`
            : `Form ${form.key} has no version ${form.version}`,
        );
      if (!facts?.code)
        throw invalid([
          { in: 'body', path: 'centreCode', message: `Centre ${input.centreCode} is not in the registry` },
        ]);
      // Refused only by the election as it is now: one just changed is never judged by an older copy.
      check(actor, form.role, table, content.observedAt, answers, facts, results ? await elections.find() : current);
      // The rules hold now: they changed since the first try (an assignment), or a concurrent first send rolled back.
      const stored = await insert(report, form);
      if (stored?.created) return { status: 'created' as const, report: toReport(stored) };
      const earlier = await replay(actor, input.id, hash, content);
      if (!earlier) throw new Error(`report ${input.id} neither inserted nor found`);
      return earlier;
    });
  }

  return {
    /** submitOne, with the log's receipt of the report (the same on every replay). */
    async submit(
      context: ActorContext,
      input: ReportInput,
      election?: Election | null,
      fallback: Fallback = (work) => work(),
    ): Promise<{ status: 'created' | 'replayed'; report: ReturnType<typeof toReport>; receipt: Receipt }> {
      const result = await submitOne(context, input, election, fallback);
      return { ...result, receipt: deps.receipts.ofReport(result.report) };
    },

    /**
     * Submits every item of a batch at once, each on its own (`parse` checks an item's shape, throwing its
     * problem): the new ones share the insert statements; the slow path runs a few at a time. One failure is its
     * item's answer, never the batch's. Answers in the order sent.
     */
    async submitBatch(context: ActorContext, items: unknown[], parse: (item: unknown) => ReportInput) {
      const election = (await elections.find()) ?? null;
      const fallback = limiter(BATCH_FALLBACK_CONCURRENCY);
      const handle = async (index: number, item: unknown): Promise<BatchOutcome<ReturnType<typeof toReport>>> => {
        const id =
          typeof item === 'object' && item && typeof (item as { id?: unknown }).id === 'string'
            ? (item as { id: string }).id
            : null;
        try {
          const result = await this.submit(context, parse(item), election, fallback);
          return {
            index,
            id,
            status: result.status,
            httpStatus: result.status === 'created' ? 201 : 200,
            report: result.report,
            receipt: result.receipt,
          };
        } catch (error) {
          const problem = toAppError(error as Error);
          const status = problem.status >= 500 ? 'error' : problem.code === 'REPORT_CONFLICT' ? 'conflict' : 'invalid';
          return { index, id, status, httpStatus: problem.status, problem, cause: error };
        }
      };
      return Promise.all(items.map((item, index) => handle(index, item)));
    },

    async get(actor: Actor, id: string) {
      const row = await repo.findVisible(actor, id);
      if (!row) throw new AppError('NOT_FOUND', `Report ${id} does not exist`);
      const [reviews, photos] = await Promise.all([repo.reviews(id), deps.photosOf(actor, id)]);
      return {
        ...toReport(row),
        reviews: reviews.map((review) => ({ ...review, createdAt: iso(review.createdAt) })),
        photos,
      };
    },

    async revisions(actor: Actor, id: string) {
      if (!(await repo.findVisible(actor, id))) throw new AppError('NOT_FOUND', `Report ${id} does not exist`);
      return (await repo.revisions(id)).map(toRevision);
    },

    /** Adds a revision (the author, or a coordinator or admin in scope); the same content again is a no-op. */
    async revise(
      context: ActorContext,
      id: string,
      input: RevisionInput,
    ): Promise<{ status: 'created' | 'unchanged'; report: ReturnType<typeof toReport>; receipt: Receipt | null }> {
      const { actor } = context;
      const current = await repo.findVisible(actor, id);
      if (!current) throw new AppError('NOT_FOUND', `Report ${id} does not exist`);
      if (!mayModifyReport(actor, current))
        throw new AppError('FORBIDDEN', 'Only the author, or a coordinator or admin in scope, may revise a report');
      // Against the report's own version, retired or not: a revision corrects what was reported with it.
      const form = await forms.resolve(current.kind, current.formVersion);
      const answers = form.parse(input.answers);
      const content: ReportContent = {
        kind: current.kind,
        centreCode: current.centreCode,
        table: current.tableNumber,
        observedAt: new Date(input.observedAt ?? current.observedAt).toISOString(),
        answers,
        notes: input.notes === undefined ? current.notes : input.notes,
        location: input.location === undefined ? locationOf(current) : normaliseLocation(input.location),
      };
      const hash = contentHash(content);
      // The same content again: the current revision's receipt (what is stored), nothing new.
      if (hash === current.contentHash)
        return { status: 'unchanged', report: toReport(current), receipt: await receiptOfRevision(current) };
      const centre = await repo.centreFacts(current.centreCode, current.tableNumber, actor.userId, current.id);
      const election = await elections.current();
      if (actor.role === 'observer') centre!.assigned = true; // the author keeps the right to correct it
      check(actor, form.role, current.tableNumber, content.observedAt, answers, centre!, election);
      const flags = form.role === 'results' ? resultsFlags(answers as ResultsAnswers, centre!.tableVoters) : [];
      const revised = await repo.revise(context, current, {
        number: current.revision + 1,
        observedAt: content.observedAt,
        answers,
        notes: content.notes,
        location: content.location,
        hash,
        flags,
        reason: input.reason,
        authorId: actor.userId,
      });
      if (!revised) {
        throw new AppError('REPORT_CONFLICT', `Report ${id} was revised meanwhile; fetch it and try again`, {
          fields: ['revision'],
        });
      }
      const report = await view(id);
      return { status: 'created', report, receipt: await receiptOfRevision(report) };
    },

    /**
     * Records a review of the report's current revision (or of `input.revision`, which must be the current one).
     * Nobody reviews a report they wrote any revision of; the state it already has is answered as it is, adding
     * nothing (a retried click, also when two arrive at once).
     */
    async review(
      context: ActorContext,
      id: string,
      input: { state: 'verified' | 'flagged' | 'rejected'; note?: string | undefined; revision?: number | undefined },
    ) {
      const { actor } = context;
      const current = await repo.findVisible(actor, id);
      if (!current) throw new AppError('NOT_FOUND', `Report ${id} does not exist`);
      if (input.revision !== undefined && input.revision !== current.revision) {
        throw new AppError(
          'REPORT_CONFLICT',
          `Report ${id} is at revision ${current.revision}, not ${input.revision}; read it again and review what it says now`,
          { fields: ['revision'] },
        );
      }
      if (current.observerId === actor.userId || (await repo.wroteRevision(id, actor.userId))) {
        throw new AppError('REVIEW_NOT_ALLOWED', 'Nobody reviews a report they submitted or revised');
      }
      if (current.reviewState === input.state) return withReviewReceipt(await this.get(actor, id));
      const recorded = await repo.review(context, current, {
        state: input.state,
        note: input.note ?? null,
        reviewerId: actor.userId,
        revision: current.revision,
      });
      if (!recorded) {
        // Nothing recorded: revised meanwhile (what was judged is gone), the same review arrived first (answered
        // as it is), or the reviewer wrote a revision meanwhile.
        const now = await repo.findVisible(actor, id);
        if (!now) throw new AppError('NOT_FOUND', `Report ${id} does not exist`);
        if (now.revision !== current.revision)
          throw new AppError(
            'REPORT_CONFLICT',
            `Report ${id} was revised meanwhile; read it again and review what it says now`,
            { fields: ['revision'] },
          );
        if (now.reviewState !== input.state)
          throw new AppError('REVIEW_NOT_ALLOWED', 'Nobody reviews a report they submitted or revised');
      }
      return withReviewReceipt(await this.get(actor, id));
    },

    async list(actor: Actor, filter: ReportFilter, limit: number) {
      await knownKind(filter);
      const page = pageOf(await repo.list(actor, filter, limit + 1), limit, (last) => ({
        at: iso(last.receivedAt),
        id: last.id,
      }));
      return { items: page.items.map(toReport), next: page.next };
    },

    /**
     * Every report matching `filter`, newest first, in pages of `pageSize` (for streaming exports). A page is
     * fetched when the consumer asks for it, so that memory holds one page whatever the export's size.
     */
    async *stream(actor: Actor, filter: ReportFilter, pageSize = 500): AsyncGenerator<ReturnType<typeof toReport>[]> {
      await knownKind(filter);
      let before: ReportFilter['before'];
      for (;;) {
        const rows = await repo.exportPage(actor, { ...filter, before }, pageSize);
        if (rows.length === 0) return;
        yield rows.map(toReport);
        if (rows.length < pageSize) return;
        const last = rows.at(-1)!;
        before = { at: last.receivedAt, id: last.id };
      }
    },

    /** The report if `actor` may read it (what photos are attached to). */
    visibleReport: (actor: Actor, id: string): Promise<ReportRow | undefined> => repo.findVisible(actor, id),
  };
}

export type ReportsService = ReturnType<typeof createReportsService>;
