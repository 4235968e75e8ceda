// Process analysis: the findings per question of a form, per region. What counts (each unit's latest
// unrejected report of the form, in the version it used) is kept by the database's triggers; here the scope
// (the summaries' rules), the questions to answer (the current version's, then those only older versions had)
// and the shape of each question's answer by type.
import { LRUCache } from 'lru-cache';
import type { Actor } from '../../infra/auth/actor.js';
import type { Database } from '../../infra/db/client.js';
import { preparedQuery, type Query, shedQuery } from '../../infra/db/prepared.js';
import { AppError } from '../../infra/errors.js';
import { type SummariesService, scopeOf } from '../summaries/summaries.service.js';
import type { TalliesReads } from '../summaries/tallies.js';
import {
  type AnalysisLevel,
  type FormVersionRow,
  analysisRepository as repo,
  type TallyRow,
} from './analysis.repository.js';

type QuestionType = 'boolean' | 'single' | 'multiple' | 'integer' | 'time' | 'text' | 'codes' | 'tally';
export interface Question {
  key: string;
  type: QuestionType;
  options: string[];
}

const fraction = (part: number, whole: number) => (whole > 0 ? part / whole : null);
const clockOf = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** The questions an analysis answers: the current version's in order, then those only older versions had (newest first), each with its last type. */
export function questionsOf(versions: FormVersionRow[], current: FormVersionRow): Question[] {
  const seen = new Set<string>();
  const out: Question[] = [];
  for (const version of [current, ...[...versions].reverse()]) {
    for (const question of version.definition.questions ?? []) {
      if (seen.has(question.key)) continue;
      seen.add(question.key);
      out.push({
        key: question.key,
        type: question.type as QuestionType,
        options: (question.options ?? []).map((option) => option.key),
      });
    }
  }
  return out;
}

/** A histogram (value → units) sorted by value. */
function histogram(values: Map<string, number> | undefined, prefix: string): [number, number][] {
  return [...(values ?? [])]
    .filter(([value, units]) => value.startsWith(prefix) && units > 0)
    .map(([value, units]) => [Number(value.slice(prefix.length)), units] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

/** The value at 0-based rank `rank` of a sorted histogram. */
function atRank(sorted: [number, number][], rank: number): number {
  let seen = 0;
  for (const [value, units] of sorted) {
    seen += units;
    if (rank < seen) return value;
  }
  throw new Error(`rank ${rank} beyond ${seen}`);
}

/** Counts per option (every known option, 0 included, then any other seen) of cells `prefix:<option>`. */
function optionCounts(values: Map<string, number> | undefined, prefix: string, options: string[]) {
  const counts: Record<string, number> = Object.fromEntries(options.map((option) => [option, 0]));
  const others = [...(values ?? [])]
    .filter(([value, units]) => value.startsWith(prefix) && units !== 0)
    .map(([value, units]) => [value.slice(prefix.length), units] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [option, units] of others) counts[option] = units;
  return counts;
}

const sharesOf = (counts: Record<string, number>, answered: number) =>
  Object.fromEntries(Object.entries(counts).map(([option, units]) => [option, fraction(units, answered)]));

/** One question's answer, from its cells (value → units) and the region's reporting units. */
export function answerOf(question: Question, values: Map<string, number> | undefined, reporting: number) {
  const units = (value: string) => values?.get(value) ?? 0;
  switch (question.type) {
    case 'boolean': {
      const yes = units('b:true');
      const no = units('b:false');
      return { type: 'boolean' as const, yes, no, unanswered: reporting - yes - no, yesShare: fraction(yes, yes + no) };
    }
    case 'single': {
      const counts = optionCounts(values, 's:', question.options);
      const answered = Object.values(counts).reduce((sum, n) => sum + n, 0);
      return { type: 'single' as const, counts, unanswered: reporting - answered, shares: sharesOf(counts, answered) };
    }
    case 'multiple':
    case 'codes': {
      const letter = question.type === 'multiple' ? 'm' : 'c';
      const counts = optionCounts(values, `${letter}:`, question.type === 'multiple' ? question.options : []);
      const answered = units(letter);
      return { type: question.type, counts, unanswered: reporting - answered, shares: sharesOf(counts, answered) };
    }
    case 'integer': {
      const sorted = histogram(values, 'i:');
      const answered = sorted.reduce((sum, [, n]) => sum + n, 0);
      const sum = sorted.reduce((total, [value, n]) => total + value * n, 0);
      // The median of an even count is the mean of the two middle values.
      const median =
        answered === 0
          ? null
          : answered % 2 === 1
            ? atRank(sorted, (answered - 1) / 2)
            : (atRank(sorted, answered / 2 - 1) + atRank(sorted, answered / 2)) / 2;
      return {
        type: 'integer' as const,
        answered,
        sum,
        mean: answered > 0 ? sum / answered : null,
        min: sorted[0]?.[0] ?? null,
        max: sorted.at(-1)?.[0] ?? null,
        median,
      };
    }
    case 'time': {
      const sorted = histogram(values, 't:');
      const answered = sorted.reduce((sum, [, n]) => sum + n, 0);
      const clock = (minute: number | undefined) => (minute === undefined ? null : clockOf(minute));
      // The lower median (a time of the day that some unit reported).
      return {
        type: 'time' as const,
        answered,
        median: answered > 0 ? clockOf(atRank(sorted, Math.floor((answered - 1) / 2))) : null,
        earliest: clock(sorted[0]?.[0]),
        latest: clock(sorted.at(-1)?.[0]),
      };
    }
    case 'text':
      return { type: 'text' as const, answered: units('x') };
    case 'tally':
      return { type: 'tally' as const, answered: units('y') };
    default:
      return { type: question.type, answered: 0 };
  }
}

/** Tally counts added up per question: "<question>|<value>" → units, and the reporting units ("#units"). */
export interface ParsedCounts {
  reporting: number;
  byQuestion: Map<string, Map<string, number>>;
  /** How many keys were added (the size of a cached entry). */
  cells: number;
}

const emptyCounts = (): ParsedCounts => ({ reporting: 0, byQuestion: new Map(), cells: 0 });

/** Adds flat counts { key: units } into `into` (a read's hot loop: no entry arrays, one Map lookup per key). */
function addCounts(into: ParsedCounts, counts: Record<string, number>): ParsedCounts {
  for (const key in counts) {
    const count = counts[key] ?? 0;
    into.cells += 1;
    if (key === '#units') {
      into.reporting += count;
      continue;
    }
    const bar = key.indexOf('|');
    const question = key.substring(0, bar);
    let values = into.byQuestion.get(question);
    if (values === undefined) into.byQuestion.set(question, (values = new Map<string, number>()));
    const value = key.substring(bar + 1);
    values.set(value, (values.get(value) ?? 0) + count);
  }
  return into;
}

/** Parsed counts added into `into` (which is changed; `parsed` is not). */
function addParsed(into: ParsedCounts, parsed: ParsedCounts): ParsedCounts {
  into.reporting += parsed.reporting;
  into.cells += parsed.cells;
  for (const [question, values] of parsed.byQuestion) {
    let target = into.byQuestion.get(question);
    if (target === undefined) into.byQuestion.set(question, (target = new Map<string, number>()));
    for (const [value, units] of values) target.set(value, (target.get(value) ?? 0) + units);
  }
  return into;
}

/**
 * The stored tally rows a process has parsed, by row version (analysisRepository.read's tokens: region, stripe,
 * xmin, ctid; a committed row version never changes, so its parsed counts are reused as long as a read finds
 * the same token), bounded by the cells they hold; and per form and level the tokens last seen, which a read
 * sends as `known`.
 */
export function createParsedTallies(maxCells = 300_000) {
  const parsed = new LRUCache<string, ParsedCounts>({
    maxSize: maxCells,
    sizeCalculation: (p) => Math.max(1, p.cells),
  });
  const seen = new Map<string, Map<string, string>>();
  const slotOf = (token: string) => token.slice(0, token.indexOf(' ', token.indexOf(' ') + 1));
  return {
    /** The parsed rows of `form` at `level` this process still holds, by token (a copy: race-free for one read). */
    known(form: string, level: AnalysisLevel): Map<string, ParsedCounts> {
      const tokens = seen.get(`${form} ${level}`);
      const out = new Map<string, ParsedCounts>();
      for (const token of tokens?.values() ?? []) {
        const entry = parsed.get(token);
        if (entry) out.set(token, entry);
      }
      return out;
    },
    /** A row version read with its counts: parsed, kept, and remembered as the current one of its region and stripe. */
    store(form: string, level: AnalysisLevel, token: string, counts: Record<string, number>): ParsedCounts {
      const entry = addCounts(emptyCounts(), counts);
      parsed.set(token, entry);
      const key = `${form} ${level}`;
      let tokens = seen.get(key);
      if (!tokens) seen.set(key, (tokens = new Map()));
      tokens.set(slotOf(token), token);
      return entry;
    },
  };
}

export type ParsedTallies = ReturnType<typeof createParsedTallies>;

/**
 * A region's counts: its stored rows (parsed now, or as parsed before for the tokens the read found unchanged)
 * plus the pending delta. A single stored row without a pending delta is used as it is (answerOf only reads it);
 * otherwise the parts are added into a new one, so that no cached row changes.
 */
function countsOf(
  row: TallyRow,
  rowOf: (token: string, counts: Record<string, number> | null) => ParsedCounts,
): ParsedCounts {
  const stored = (row.stored ?? []).map((stripe) => rowOf(stripe.token, stripe.counts));
  if (row.pending === null && stored.length === 1) return stored[0] ?? emptyCounts();
  const sum = stored.reduce(addParsed, emptyCounts());
  return row.pending === null ? sum : addCounts(sum, row.pending);
}

export function toAnalysisRow(
  row: TallyRow,
  counts: ParsedCounts,
  level: AnalysisLevel,
  unit: 'centre' | 'table',
  questions: Question[],
) {
  const { reporting, byQuestion } = counts;
  return {
    code: level === 'national' ? 'national' : row.code,
    name: row.name,
    level,
    units: { total: unit === 'table' ? row.tables : row.centres, reporting },
    questions: Object.fromEntries(
      questions.map((question) => [question.key, answerOf(question, byQuestion.get(question.key), reporting)]),
    ),
  };
}

export type AnalysisRow = ReturnType<typeof toAnalysisRow>;

/**
 * The analysis of a form per region, read on the read pool like summaries (with `maxWaiting`, refused with 503
 * SERVICE_OVERLOADED while that many reads wait for a connection). Scope: the summaries' rules.
 */
export function createAnalysisService(deps: {
  database: Pick<Database, 'readPool'>;
  summaries: Pick<SummariesService, 'rootFor' | 'requireNational'>;
  /** The answer cache keyed by the tallies' version (src/features/summaries/tallies.ts), shared with summaries. */
  reads: TalliesReads;
  maxWaiting?: number;
  /** The parsed tally rows (default: a new one of 300,000 cells). */
  parsed?: ParsedTallies;
}) {
  const { database, summaries, reads } = deps;
  const parsed = deps.parsed ?? createParsedTallies();
  const direct =
    deps.maxWaiting === undefined ? preparedQuery(database.readPool) : shedQuery(database.readPool, deps.maxWaiting);

  /**
   * The one read path: the whole answer for form `kind` at `level` under `root` (everywhere when null), with the
   * tallies' version it was read at — one statement, so one snapshot: exact at that version.
   */
  async function compute(kind: string, level: AnalysisLevel, root: string | null, run: Query = direct) {
    const known = parsed.known(kind, level);
    const { version, versions, rows } = await repo.read(run, kind, { level, root }, [...known.keys()]);
    if (versions.length === 0) throw new AppError('NOT_FOUND', `Form ${kind} does not exist`);
    // The current version: the newest one still accepting reports (else the newest).
    const current = [...versions].reverse().find((entry) => !entry.retired) ?? versions.at(-1)!;
    const questions = questionsOf(versions, current);
    const rowOf = (token: string, counts: Record<string, number> | null) => {
      if (counts !== null) return parsed.store(kind, level, token, counts);
      const entry = known.get(token);
      if (!entry)
        throw new Error(`the analysis statement left out the counts of ${token}, which this read does not hold`);
      return entry;
    };
    return {
      version,
      value: {
        kind,
        version: current.version,
        level,
        rows: rows.map((row) => toAnalysisRow(row, countsOf(row, rowOf), level, current.unit, questions)),
      },
    };
  }

  /**
   * The answer from the cache keyed by the tallies' version (every report change, form publication and registry
   * import bumps it), computed on a miss by compute(): exact at every moment, and a matching If-None-Match is a
   * 304 that reads nothing but the version.
   */
  const cached = (
    name: string,
    actor: Actor | null,
    query: object,
    ifNoneMatch: string | undefined,
    args: [string, AnalysisLevel, string | null],
  ) =>
    reads.cache.answer({ name: `analysis.${name}`, query, scope: scopeOf(actor) }, () => compute(...args), ifNoneMatch);

  return {
    /** The answer, computed now (no cache). */
    read: async (kind: string, level: AnalysisLevel, root: string | null) => (await compute(kind, level, root)).value,

    async list(
      actor: Actor | null,
      query: { kind: string; level: Exclude<AnalysisLevel, 'national'>; parent?: string | undefined },
      ifNoneMatch?: string,
    ) {
      const parent = await summaries.rootFor(actor, query.parent);
      return cached('list', actor, query, ifNoneMatch, [query.kind, query.level, parent?.code ?? null]);
    },

    async national(actor: Actor | null, query: { kind: string }, ifNoneMatch?: string) {
      summaries.requireNational(
        actor,
        'The national analysis needs a national scope; ask for your region with GET /v1/analysis',
      );
      return cached('national', actor, query, ifNoneMatch, [query.kind, 'national', null]);
    },
  };
}

export type AnalysisService = ReturnType<typeof createAnalysisService>;
