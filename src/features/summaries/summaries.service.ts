// Summaries per region for dashboards: scope, the choice between the live tallies and a recount for a
// time window, and the shape of a row (coverage, reports, incidents, opening, results, flags).

import type { Actor } from '../../infra/auth/actor.js';
import { visibleUsers } from '../../infra/auth/policy.js';
import type { Database } from '../../infra/db/client.js';
import { preparedQuery, type Query, shedQuery } from '../../infra/db/prepared.js';
import { AppError } from '../../infra/errors.js';
import type { ConcurrencyCap } from '../../infra/http/concurrency.js';
import { encodeCursor, pageOf } from '../../infra/http/pagination.js';
import type { Election } from '../election/election.service.js';
import { INCIDENT_CATEGORIES, REPORT_KINDS, type BuiltinKind as ReportKind } from '../reports/forms.js';
import {
  type AreaQuery,
  summariesRepository as repo,
  type SummaryLevel,
  type TallyRow,
} from './summaries.repository.js';
import { createTalliesReads, type TalliesReads } from './tallies.js';

export const DEFAULT_OPENING_TIME = '06:00';
type Window = { since?: Date | undefined; until?: Date | undefined };

const fraction = (part: number, whole: number) => (whole > 0 ? part / whole : null);
const minuteOf = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));
const clockOf = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** Every known key with its count (0 when absent), then any other key with a count. */
function withKeys(keys: readonly string[], counts: Record<string, number> | null): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(keys.map((key) => [key, 0]));
  for (const [key, value] of Object.entries(counts ?? {})) out[key] = Number(value);
  return out;
}

/** Centres that opened, those at or before `onTimeMinute`, and the lower median minute, from a region's opening histogram. */
export function openingOf(minutes: number[] | null, centres: number[] | null, onTimeMinute: number) {
  const histogram = (minutes ?? []).map((minute, i) => [minute, centres![i]!] as const).sort((a, b) => a[0] - b[0]);
  const total = histogram.reduce((sum, [, count]) => sum + count, 0);
  let onTime = 0;
  let cumulative = 0;
  let median: number | null = null;
  for (const [minute, count] of histogram) {
    if (minute <= onTimeMinute) onTime += count;
    cumulative += count;
    if (median === null && count > 0 && cumulative * 2 >= total) median = minute;
  }
  return { total, onTime, median };
}

export function toSummary(row: TallyRow, level: SummaryLevel, openingTime: string, candidates: readonly string[]) {
  const votes = withKeys(candidates, row.votes);
  const votesCast = row.valid_votes + row.null_votes + row.blank_votes;
  const opened = openingOf(row.openingMinutes, row.openingCentres, minuteOf(openingTime));
  const reportsByKind = Object.fromEntries(REPORT_KINDS.map((kind) => [kind, row[kind]])) as Record<ReportKind, number>;
  return {
    code: level === 'national' ? 'national' : row.code,
    name: row.name,
    level,
    coverage: {
      centres: row.centres,
      tables: row.tables,
      registeredVoters: row.registryVoters,
      centresReporting: row.centres_reporting,
      centresOpened: row.centres_opened,
      tablesCounted: row.tables_counted,
      centresReportingShare: fraction(row.centres_reporting, row.centres),
      centresOpenedShare: fraction(row.centres_opened, row.centres),
      tablesCountedShare: fraction(row.tables_counted, row.tables),
    },
    reports: { total: REPORT_KINDS.reduce((sum, kind) => sum + row[kind], 0), byKind: reportsByKind },
    incidents: {
      total: row.incident,
      open: row.incidents_open,
      bySeverity: {
        low: row.severity_low,
        medium: row.severity_medium,
        high: row.severity_high,
        critical: row.severity_critical,
      },
      byCategory: withKeys(INCIDENT_CATEGORIES, row.categories),
    },
    opening: {
      openingTime,
      centres: opened.total,
      onTime: opened.onTime,
      onTimeShare: fraction(opened.onTime, opened.total),
      medianOpenedAt: opened.median === null ? null : clockOf(opened.median),
    },
    results: {
      tablesCounted: row.tables_counted,
      registeredVoters: row.registered_voters,
      validVotes: row.valid_votes,
      nullVotes: row.null_votes,
      blankVotes: row.blank_votes,
      votesCast,
      turnout: fraction(votesCast, row.registered_voters),
      votes,
      shares:
        row.valid_votes > 0
          ? Object.fromEntries(Object.entries(votes).map(([code, count]) => [code, count / row.valid_votes]))
          : {},
    },
    flags: {
      flagged: row.flagged,
      conflicting: row.conflicting,
      unreviewed: row.unreviewed,
      verified: row.verified,
      rejected: row.rejected,
    },
  };
}

export type Summary = ReturnType<typeof toSummary>;

/**
 * Summaries read on the database's read pool (dashboards never take the connections of writes); recounts (a
 * `since`/`until` window) take a place of `recounts` while they run, if given; with `maxWaiting`, a summary is
 * refused (503 SERVICE_OVERLOADED) while that many queries wait for a read connection.
 */
export function createSummariesService(
  database: Pick<Database, 'prisma' | 'readPool'>,
  election: () => Promise<ElectionFacts | undefined>,
  options: { recounts?: ConcurrencyCap; maxWaiting?: number; reads?: TalliesReads } = {},
) {
  const direct =
    options.maxWaiting === undefined
      ? preparedQuery(database.readPool)
      : shedQuery(database.readPool, options.maxWaiting);
  const reads = options.reads ?? createTalliesReads(database.readPool, { maxWaiting: options.maxWaiting });
  const answers = answersOn(direct, election, options.recounts);

  /** The answers of one snapshot: every statement on `run`, the election read in it too. */
  const inSnapshot = <T>(work: (on: ReturnType<typeof answersOn>) => Promise<T>) =>
    reads.snapshot((run) => work(answersOn(run, () => repo.electionFacts(run), options.recounts)));

  type Name = 'list' | 'national' | 'timeline' | 'missing';
  type Args<N extends Name> = Parameters<ReturnType<typeof answersOn>[N]>;
  /** An answer from the cache keyed by the tallies' version ('not-modified' when `ifNoneMatch` still holds). */
  function cached<N extends Name>(name: N, ifNoneMatch: string | undefined, ...args: Args<N>) {
    const [actor, query] = args as [Actor | null, unknown];
    return reads.cache.answer(
      { name: `summaries.${name}`, query, scope: scopeOf(actor, name === 'missing') },
      () => inSnapshot((on) => (on[name] as (...a: Args<N>) => Promise<unknown>)(...args)),
      ifNoneMatch,
    );
  }

  /**
   * What the stream sends a caller at version `version` or later: the national row (null when the caller
   * may not see it) and the state rows their summaries show, as GET /v1/summaries/national and
   * GET /v1/summaries?level=state answer them. Computed once per (version, scope).
   */
  function streamAt(actor: Actor | null, version: number) {
    return reads.cache.at({ name: 'summaries.stream', query: null, scope: scopeOf(actor) }, version, () =>
      inSnapshot(async (on) => {
        const nationalVisible = !actor || actor.role === 'admin' || actor.scopeRegionCode === null;
        const national = nationalVisible ? await on.national(actor, {}) : null;
        const states = await on.list(actor, { level: 'state' });
        return { national, states: states.items };
      }),
    );
  }

  return { ...answers, cached, streamAt, reads };
}

/** The part of the election summaries show, read in the summary's snapshot. */
export type ElectionFacts = Pick<Election, 'openingTime' | 'candidates'>;

/**
 * Who shares an answer: everyone in public mode, admins, or callers of one role and scope region (and, for
 * answers that name users, of one user: what they may see of observers depends on who they are).
 */
export function scopeOf(actor: Actor | null, perUser = false): string {
  if (!actor) return 'public';
  if (actor.role === 'admin') return 'admin';
  return `${actor.role}:${actor.scopeRegionCode ?? '*'}${perUser ? `:${actor.userId}` : ''}`;
}

function answersOn(
  run: Query,
  election: () => Promise<ElectionFacts | undefined>,
  recounts: ConcurrencyCap | undefined,
) {
  const options = { recounts };
  /** The subtree a caller may summarise: `requested` if given (404 when unknown or outside the caller's scope), else the caller's scope. */
  async function rootFor(
    actor: Actor | null,
    requested: string | undefined,
  ): Promise<{ code: string; name: string; level: SummaryLevel } | null> {
    const scope = actor && actor.role !== 'admin' ? actor.scopeRegionCode : null;
    const code = requested ?? scope;
    if (code === null) return null;
    const area = await repo.findArea(run, code);
    const inside =
      area && area.level !== 'centre' && (scope === null || (await repo.regionWithin(run, code, scope)) === 'inside');
    if (!area || !inside) throw new AppError('NOT_FOUND', `Region ${code} does not exist`);
    return area;
  }

  /** 403 unless `actor` may read the whole country (admins, national coordinators and analysts; anyone when public). */
  function requireNational(actor: Actor | null, message: string): void {
    if (actor && actor.role !== 'admin' && actor.scopeRegionCode !== null) throw new AppError('FORBIDDEN', message);
  }

  async function recount<T>(work: () => Promise<T>): Promise<T> {
    const release = options.recounts?.enter();
    try {
      return await work();
    } finally {
      release?.();
    }
  }

  async function rows(area: AreaQuery, window: Window) {
    const current = await election();
    const openingTime = current?.openingTime ?? DEFAULT_OPENING_TIME;
    const candidates = (current?.candidates ?? []).map((candidate) => candidate.code);
    const found =
      window.since || window.until
        ? await recount(() => repo.fromReports(run, area, window))
        : await repo.fromTallies(run, area);
    return found.map((row) => toSummary(row, area.level, openingTime, candidates));
  }

  const iso = (date: Date | undefined) => date?.toISOString() ?? null;

  const answers = {
    async list(
      actor: Actor | null,
      query: { level: Exclude<SummaryLevel, 'national'>; parent?: string | undefined } & Window,
    ) {
      const parent = await rootFor(actor, query.parent);
      const items = await rows({ level: query.level, root: parent?.code ?? null }, query);
      return { level: query.level, parent, since: iso(query.since), until: iso(query.until), items };
    },

    /** The scope rules of summaries, shared with the process analysis (which reads the same way). */
    rootFor,
    requireNational,

    async national(actor: Actor | null, window: Window) {
      requireNational(actor, 'The national summary needs a national scope; ask for your region with GET /v1/summaries');
      const [row] = await rows({ level: 'national', root: null }, window);
      return { ...row!, since: iso(window.since), until: iso(window.until) };
    },

    async timeline(
      actor: Actor | null,
      query: {
        region?: string | undefined;
        kind?: ReportKind | undefined;
        bucket: '15m' | '1h';
        cursor?: string | undefined;
        limit: number;
      } & Window,
    ) {
      const root = await rootFor(actor, query.region);
      const bucketMinutes = query.bucket === '15m' ? 15 : 60;
      const found = await repo.timeline(
        run,
        { ...query, root: root?.code ?? null, bucketMinutes, after: query.cursor ? new Date(query.cursor) : undefined },
        query.limit + 1,
      );
      const buckets = new Map<number, Record<string, number>>();
      for (const row of found) {
        const byKind = buckets.get(row.start.getTime()) ?? {};
        byKind[row.kind] = row.reports;
        buckets.set(row.start.getTime(), byKind);
      }
      const all = [...buckets].map(([start, byKind]) => ({
        start: new Date(start).toISOString(),
        end: new Date(start + bucketMinutes * 60_000).toISOString(),
        reports: Object.values(byKind).reduce((sum, count) => sum + count, 0),
        byKind,
      }));
      const page = pageOf(all, query.limit, (last) => last.start);
      return {
        region: root?.code ?? null,
        kind: query.kind ?? null,
        bucket: query.bucket,
        items: page.items,
        nextCursor: page.next ? encodeCursor(page.next) : null,
      };
    },

    async missing(
      actor: Actor,
      query: {
        region?: string | undefined;
        kind: ReportKind;
        observed?: boolean | undefined;
        cursor?: string | undefined;
        limit: number;
      },
    ) {
      const root = await rootFor(actor, query.region);
      // Contact details only of observers the caller may read as users (GET /v1/users/{id}): never an analyst's,
      // nor a coordinator's of a national observer who happens to be assigned inside their region.
      const contacts = visibleUsers(actor);
      const found = await repo.missing(
        run,
        { root: root?.code ?? null, kind: query.kind, observed: query.observed, after: query.cursor, contacts },
        query.limit + 1,
      );
      const page = pageOf(found, query.limit, (last) => last.code);
      return {
        kind: query.kind,
        region: root?.code ?? null,
        items: page.items,
        nextCursor: page.next ? encodeCursor(page.next) : null,
      };
    },
  };
  return answers;
}

export type SummariesService = ReturnType<typeof createSummariesService>;
