// Process analysis: the findings per question of a form, per region. What counts (each unit's latest
// unrejected report of the form, in the version it used) is kept by the database's triggers; here the scope
// (the summaries' rules), the questions to answer (the current version's, then those only older versions had)
// and the shape of each question's answer by type.
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

export function toAnalysisRow(row: TallyRow, level: AnalysisLevel, unit: 'centre' | 'table', questions: Question[]) {
  // The stripes added up, per question: "<question>|<value>" → units.
  // A read's hot loop (thousands of keys a region): no entry arrays, one Map lookup per question key.
  const byQuestion = new Map<string, Map<string, number>>();
  let reporting = 0;
  for (const counts of row.counts ?? [])
    for (const key in counts) {
      const count = counts[key] ?? 0;
      if (key === '#units') {
        reporting += count;
        continue;
      }
      const bar = key.indexOf('|');
      const question = key.substring(0, bar);
      let values = byQuestion.get(question);
      if (values === undefined) byQuestion.set(question, (values = new Map<string, number>()));
      const value = key.substring(bar + 1);
      values.set(value, (values.get(value) ?? 0) + count);
    }
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
}) {
  const { database, summaries, reads } = deps;
  const direct =
    deps.maxWaiting === undefined ? preparedQuery(database.readPool) : shedQuery(database.readPool, deps.maxWaiting);

  /**
   * The one read path: the whole answer for form `kind` at `level` under `root` (everywhere when null), with the
   * tallies' version it was read at — one statement, so one snapshot: exact at that version.
   */
  async function compute(kind: string, level: AnalysisLevel, root: string | null, run: Query = direct) {
    const { version, versions, rows } = await repo.read(run, kind, { level, root });
    if (versions.length === 0) throw new AppError('NOT_FOUND', `Form ${kind} does not exist`);
    // The current version: the newest one still accepting reports (else the newest).
    const current = [...versions].reverse().find((entry) => !entry.retired) ?? versions.at(-1)!;
    const questions = questionsOf(versions, current);
    return {
      version,
      value: {
        kind,
        version: current.version,
        level,
        rows: rows.map((row) => toAnalysisRow(row, level, current.unit, questions)),
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
