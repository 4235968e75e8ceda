// Streaming exports of reports: NDJSON (one report per line, as the API shows it) or CSV with the answers
// flattened into one column per form field (and one per candidate for votes; the mission's own forms one per
// question, `<form>.<question>`, and one per option of a multiple choice, `<form>.<question>.<option>`, 0/1). Memory stays flat: one page of
// reports and one chunk of text per export, whatever its size and however slowly the client reads.
import { Readable } from 'node:stream';
import type { Actor } from '../../infra/auth/actor.js';
import { csvLine } from '../../infra/csv.js';
import type { FormDefinition } from '../forms/forms.schemas.js';
import type { ReportFilter } from './reports.repository.js';
import type { ReportsService, toReport } from './reports.service.js';

const BASE_COLUMNS = [
  'id',
  'kind',
  'centre_code',
  'table',
  'state_code',
  'municipality_code',
  'parish_code',
  'observer_id',
  'observed_at',
  'received_at',
  'form_version',
  'revision',
  'review_state',
  'flags',
  'submission_hash',
  'content_hash',
  'notes',
  'latitude',
  'longitude',
  'accuracy',
];

/** The forms of an export: each with every version's definition, oldest first; `role` set for the built-ins. */
export type ExportForms = { key: string; role: string | null; definitions: FormDefinition[] }[];

/** answers.<field> for every question of every built-in form (votes excepted), in form order, each once. */
function answerFields(forms: ExportForms): string[] {
  const fields = new Set<string>();
  for (const form of forms.filter((each) => each.role !== null)) {
    for (const definition of form.definitions)
      for (const question of definition.questions) if (question.key !== 'votes') fields.add(question.key);
  }
  return [...fields];
}

/** A column of another form: its header, and its cell of a report of that form. */
interface FormColumn {
  header: string;
  cell(answers: Record<string, unknown>): unknown;
}
/** The columns of each of the mission's own forms (of `kind` only, when the export is filtered by it). */
function formColumns(forms: ExportForms, kind: string | undefined): Map<string, FormColumn[]> {
  const columns = new Map<string, FormColumn[]>();
  for (const form of forms.filter((each) => each.role === null && (kind === undefined || each.key === kind))) {
    const seen = new Map<string, FormColumn>();
    for (const definition of form.definitions) {
      for (const question of definition.questions) {
        const { key } = question;
        if (question.type === 'multiple') {
          for (const option of question.options ?? []) {
            const header = `${form.key}.${key}.${option.key}`;
            if (!seen.has(header))
              seen.set(header, {
                header,
                cell: (answers) =>
                  Array.isArray(answers[key]) ? ((answers[key] as unknown[]).includes(option.key) ? 1 : 0) : undefined,
              });
          }
        } else {
          const header = `${form.key}.${key}`;
          if (!seen.has(header))
            seen.set(header, {
              header,
              cell: (answers) => {
                const value = answers[key];
                if (Array.isArray(value)) return value.join(';');
                return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
              },
            });
        }
      }
    }
    columns.set(form.key, [...seen.values()]);
  }
  return columns;
}

/** Bytes of text (about) handed to the socket at a time: the stream builds the next chunk only when the socket took this one. */
const CHUNK = 64 * 1024;

/**
 * Whether the event loop was busy (more than 70 % of the last 100 ms) — then exports pause between chunks, so that
 * they run in the time other requests (observers' writes) leave. Sampled only while an export runs.
 */
const loop = {
  busy: false,
  exports: 0,
  timer: undefined as NodeJS.Timeout | undefined,
  last: performance.eventLoopUtilization(),
};
function watchLoop(delta: 1 | -1): void {
  loop.exports += delta;
  if (loop.exports > 0 && !loop.timer) {
    loop.last = performance.eventLoopUtilization();
    loop.timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      loop.busy = performance.eventLoopUtilization(now, loop.last).utilization > 0.7;
      loop.last = now;
    }, 100);
    loop.timer.unref();
  } else if (loop.exports === 0 && loop.timer) {
    clearInterval(loop.timer);
    loop.timer = undefined;
    loop.busy = false;
  }
}
/** Gives the event loop a turn (every request waiting gets one), and a pause of 20 ms when it has been busy. */
const yieldTurn = () => new Promise<void>((resolve) => (loop.busy ? setTimeout(resolve, 20) : setImmediate(resolve)));

export interface ReportExport {
  /** The body; it reads the next page of reports only when the client has taken what came before (backpressure). */
  stream: Readable;
  /** Data rows written so far (the CSV header excepted); once the stream has ended, all of them. */
  rows(): number;
}

/**
 * Starts an export. The first page is read before anything is answered, so that a database that cannot answer
 * is a problem response, not a body cut after its status line. A complete NDJSON export ends with the line
 * `{"complete":true,"rows":N}`; a cut one lacks it (the route sends the same count as a CSV trailer).
 */
export async function startExport(
  service: ReportsService,
  actor: Actor,
  filter: ReportFilter,
  format: 'csv' | 'ndjson',
  candidates: string[],
  forms: ExportForms,
): Promise<ReportExport> {
  const fields = answerFields(forms);
  const builtins = new Set(forms.filter((form) => form.role !== null).map((form) => form.key));
  const others = formColumns(forms, filter.kind);
  const otherColumns = [...others.entries()].flatMap(([key, columns]) => columns.map((column) => ({ key, column })));
  const pages = service.stream(actor, filter);
  let page = await pages.next();
  let rows = 0;
  function line(report: ReturnType<typeof toReport>): string {
    if (format === 'ndjson') return `${JSON.stringify(report)}\n`;
    const answers = report.answers as Record<string, unknown>;
    const votes = (answers.votes ?? {}) as Record<string, unknown>;
    return csvLine([
      report.id,
      report.kind,
      report.centreCode,
      report.table,
      report.region.stateCode,
      report.region.municipalityCode,
      report.region.parishCode,
      report.observerId,
      report.observedAt,
      report.receivedAt,
      report.formVersion,
      report.revision,
      report.reviewState,
      report.flags.join(';'),
      report.submissionHash,
      report.contentHash,
      report.notes,
      report.location?.lat,
      report.location?.lon,
      report.location?.accuracy,
      ...fields.map((field) => {
        if (!builtins.has(report.kind)) return undefined;
        return Array.isArray(answers[field]) ? (answers[field] as unknown[]).join(';') : answers[field];
      }),
      ...candidates.map((code) => (builtins.has(report.kind) ? votes[code] : undefined)),
      ...otherColumns.map(({ key, column }) => (key === report.kind ? column.cell(answers) : undefined)),
    ]);
  }
  async function* chunks(): AsyncGenerator<string> {
    watchLoop(1);
    try {
      let chunk =
        format === 'csv'
          ? csvLine([
              ...BASE_COLUMNS,
              ...fields.map((field) => `answers.${field}`),
              ...candidates.map((code) => `votes.${code}`),
              ...otherColumns.map(({ column }) => column.header),
            ])
          : '';
      while (!page.done) {
        for (const report of page.value) {
          chunk += line(report);
          rows += 1;
          if (chunk.length >= CHUNK) {
            // One chunk per turn of the event loop, fewer when it is busy: a client that reads fast never keeps the
            // process from the requests waiting behind it (a socket that takes each write at once would chain them).
            await yieldTurn();
            yield chunk;
            chunk = '';
          }
        }
        page = await pages.next();
      }
      if (format === 'ndjson') chunk += `${JSON.stringify({ complete: true, rows })}\n`;
      if (chunk.length > 0) yield chunk;
    } finally {
      watchLoop(-1);
      await pages.return(undefined);
    }
  }
  return { stream: Readable.from(chunks(), { objectMode: false, highWaterMark: CHUNK }), rows: () => rows };
}
