// Streaming exports of reports: NDJSON (one report per line, as the API shows it) or CSV with the answers
// flattened into one column per form field (and one per candidate for votes). Memory stays flat.
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Actor } from '../../infra/auth/actor.js';
import { csvLine } from '../../infra/csv.js';
import { forms } from './forms.js';
import type { ReportFilter } from './reports.repository.js';
import type { ReportsService } from './reports.service.js';

const BASE_COLUMNS = [
  'id', 'kind', 'centre_code', 'table', 'state_code', 'municipality_code', 'parish_code', 'observer_id', 'observed_at', 'received_at',
  'form_version', 'revision', 'review_state', 'flags', 'submission_hash', 'content_hash', 'notes', 'latitude', 'longitude', 'accuracy',
];

/** answers.<field> for every field of every form (votes excepted), in form order, each once. */
function answerFields(): string[] {
  const fields = new Set<string>();
  for (const form of Object.values(forms)) {
    for (const key of Object.keys((form.schema as z.ZodObject).shape)) if (key !== 'votes') fields.add(key);
  }
  return [...fields];
}

export function exportStream(service: ReportsService, actor: Actor, filter: ReportFilter, format: 'csv' | 'ndjson', candidates: string[]): Readable {
  const fields = answerFields();
  async function* lines(): AsyncGenerator<string> {
    if (format === 'csv') yield csvLine([...BASE_COLUMNS, ...fields.map((field) => `answers.${field}`), ...candidates.map((code) => `votes.${code}`)]);
    for await (const page of service.stream(actor, filter)) {
      let chunk = '';
      for (const report of page) {
        if (format === 'ndjson') {
          chunk += `${JSON.stringify(report)}\n`;
          continue;
        }
        const answers = report.answers as Record<string, unknown>;
        const votes = (answers.votes ?? {}) as Record<string, unknown>;
        chunk += csvLine([
          report.id, report.kind, report.centreCode, report.table, report.region.stateCode, report.region.municipalityCode, report.region.parishCode,
          report.observerId, report.observedAt, report.receivedAt, report.formVersion, report.revision, report.reviewState, report.flags.join(';'),
          report.submissionHash, report.contentHash, report.notes, report.location?.lat, report.location?.lon, report.location?.accuracy,
          ...fields.map((field) => (Array.isArray(answers[field]) ? (answers[field] as unknown[]).join(';') : answers[field])),
          ...candidates.map((code) => votes[code]),
        ]);
      }
      yield chunk;
    }
  }
  return Readable.from(lines(), { objectMode: false });
}
