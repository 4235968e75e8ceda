// An independent recount of a process analysis, in TypeScript over the reports rows (not the triggers' functions
// nor the service's shaping): each unit's latest unrejected report of the form, its answers read by the types of
// the version it used, and every question's expected answer per region.
import { expect } from 'vitest';
import type { TestDatabase } from '../helpers/db.js';

interface Definition {
  questions: { key: string; type: string; options?: { key: string }[] }[];
}
type Level = 'national' | 'state' | 'municipality' | 'parish';

/** What GET /v1/analysis answers for form `kind` at `level` (every region of it), computed from the reports. */
export async function recountAnalysis(db: TestDatabase, kind: string, level: Level) {
  const [form] = await db.query<{ unit: string }>('SELECT unit FROM forms WHERE key = $1', [kind]);
  const versions = await db.query<{ version: number; definition: Definition; retired: boolean }>(
    'SELECT version, definition, retired_at IS NOT NULL AS retired FROM form_versions WHERE form_key = $1 ORDER BY version',
    [kind],
  );
  const reports = await db.query<{
    id: string;
    centre_code: string;
    table_number: number | null;
    state_code: string;
    municipality_code: string;
    parish_code: string;
    observed_at: Date;
    received_at: Date;
    form_version: number;
    answers: Record<string, unknown>;
  }>("SELECT * FROM reports WHERE kind = $1 AND review_state <> 'rejected'", [kind]);
  const regions = await db.query<{ code: string; name: string }>(
    level === 'national'
      ? "SELECT '' AS code, 'National' AS name"
      : `SELECT code, name FROM regions WHERE level = '${level}' ORDER BY code`,
  );
  const registry = await db.query<{ code: string; centres: number; tables: number }>(
    'SELECT code, centres, tables FROM summary_registry WHERE level = $1',
    [level],
  );
  const table = form!.unit === 'table';
  const latest = new Map<string, (typeof reports)[number]>();
  for (const report of reports) {
    if (table && report.table_number === null) continue;
    const unit = `${report.centre_code}#${table ? report.table_number : 0}`;
    const other = latest.get(unit);
    const later =
      !other ||
      report.observed_at.getTime() - other.observed_at.getTime() ||
      report.received_at.getTime() - other.received_at.getTime() ||
      (report.id > other.id ? 1 : -1);
    if (later === true || (typeof later === 'number' && later > 0)) latest.set(unit, report);
  }
  const current = [...versions].reverse().find((version) => !version.retired) ?? versions.at(-1)!;
  const questions: { key: string; type: string; options: string[] }[] = [];
  for (const version of [current, ...[...versions].reverse()])
    for (const question of version.definition.questions)
      if (!questions.some((known) => known.key === question.key))
        questions.push({
          key: question.key,
          type: question.type,
          options: (question.options ?? []).map((option) => option.key),
        });
  const typeIn = (version: number, key: string) =>
    versions.find((v) => v.version === version)?.definition.questions.find((q) => q.key === key)?.type;
  const regionOf = (report: (typeof reports)[number]) =>
    level === 'national'
      ? ''
      : level === 'state'
        ? report.state_code
        : level === 'municipality'
          ? report.municipality_code
          : report.parish_code;

  const rows = regions.map((region) => {
    const units = [...latest.values()].filter((report) => regionOf(report) === region.code);
    const reporting = units.length;
    const answersTo = (key: string, type: string) =>
      units
        .filter((report) => typeIn(report.form_version, key) === type && key in report.answers)
        .map((report) => report.answers[key]);
    const answers = Object.fromEntries(
      questions.map((question) => {
        const given = answersTo(question.key, question.type);
        const tally = (options: string[], lists: unknown[][]) => {
          const counts: Record<string, number> = Object.fromEntries(options.map((option) => [option, 0]));
          for (const list of lists)
            for (const option of new Set(list as string[])) counts[option] = (counts[option] ?? 0) + 1;
          const sorted = Object.fromEntries([
            ...options.map((o) => [o, counts[o]!] as const),
            ...Object.entries(counts)
              .filter(([o]) => !options.includes(o))
              .sort(([a], [b]) => (a < b ? -1 : 1)),
          ]);
          const shares = Object.fromEntries(
            Object.entries(sorted).map(([o, n]) => [o, lists.length > 0 ? n / lists.length : null]),
          );
          return { counts: sorted, unanswered: reporting - lists.length, shares };
        };
        switch (question.type) {
          case 'boolean': {
            const yes = given.filter((a) => a === true).length;
            const no = given.filter((a) => a === false).length;
            return [
              question.key,
              {
                type: 'boolean',
                yes,
                no,
                unanswered: reporting - yes - no,
                yesShare: yes + no > 0 ? yes / (yes + no) : null,
              },
            ];
          }
          case 'single':
            return [
              question.key,
              {
                type: 'single',
                ...tally(
                  question.options,
                  given.map((a) => [a]),
                ),
              },
            ];
          case 'multiple':
            return [question.key, { type: 'multiple', ...tally(question.options, given as unknown[][]) }];
          case 'codes':
            return [question.key, { type: 'codes', ...tally([], given as unknown[][]) }];
          case 'integer': {
            const values = (given as number[]).sort((a, b) => a - b);
            const n = values.length;
            const sum = values.reduce((s, v) => s + v, 0);
            const median = n === 0 ? null : n % 2 ? values[(n - 1) / 2]! : (values[n / 2 - 1]! + values[n / 2]!) / 2;
            return [
              question.key,
              {
                type: 'integer',
                answered: n,
                sum,
                mean: n ? sum / n : null,
                min: n ? values[0] : null,
                max: n ? values[n - 1] : null,
                median,
              },
            ];
          }
          case 'time': {
            const values = (given as string[]).sort();
            const n = values.length;
            return [
              question.key,
              {
                type: 'time',
                answered: n,
                median: n ? values[Math.floor((n - 1) / 2)] : null,
                earliest: n ? values[0] : null,
                latest: n ? values[n - 1] : null,
              },
            ];
          }
          default:
            return [question.key, { type: question.type, answered: given.length }];
        }
      }),
    );
    const size = registry.find((row) => row.code === region.code);
    return {
      code: level === 'national' ? 'national' : region.code,
      name: region.name,
      level,
      units: { total: (table ? size?.tables : size?.centres) ?? 0, reporting },
      questions: answers,
    };
  });
  return { kind, version: current.version, level, rows };
}

/** The analysis of `kind` read through `read` equals the recount at every level. */
export async function expectAnalysisMatchesRecount(
  db: TestDatabase,
  kind: string,
  read: (level: Level) => Promise<unknown>,
): Promise<void> {
  for (const level of ['national', 'state', 'municipality', 'parish'] as const) {
    expect(await read(level), `${kind} at ${level}`).toEqual(await recountAnalysis(db, kind, level));
  }
}
