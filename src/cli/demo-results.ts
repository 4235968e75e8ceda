// The demo's real results: the 24,532 tally sheets of Venezuela's 2024 presidential election (seed/ve2024),
// posted as `results` reports through the API's own batch route (POST /v1/reports/batch, by app.inject on the
// real app: the same validation, rules and summary triggers as a phone's), after setting the election and its
// ten candidates. Idempotent: each report's id is a UUIDv5 of its centre and table, and its content is fixed, so
// a second run replays every item and appends nothing. Used by `npm run demo -- --with-results` and the browser
// test that takes the README's screenshot of the dashboard.

import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import type { FastifyInstance } from 'fastify';
import { v5 as uuidv5 } from 'uuid';
import { systemContext } from '../infra/auth/actor.js';
import { openFile } from './registry-files.js';

/** The actas of 2024 as published (RESULTADOS_2024_CSV_V1.csv, gzipped; provenance in seed/ve2024/README.md). */
export const DEMO_ACTAS = fileURLToPath(new URL('../../seed/ve2024/actas-2024-v1.csv.gz', import.meta.url));

/** The candidates of 2024, by the codes the actas' columns use (seed/ve2024/README.md). */
export const DEMO_CANDIDATES = [
  { code: 'EG', name: 'Edmundo González Urrutia' },
  { code: 'NM', name: 'Nicolás Maduro Moros' },
  { code: 'LM', name: 'Luis Eduardo Martínez' },
  { code: 'JABE', name: 'Javier Bertucci' },
  { code: 'JOBR', name: 'José Brito' },
  { code: 'AE', name: 'Antonio Ecarri' },
  { code: 'CF', name: 'Claudio Fermín' },
  { code: 'DC', name: 'Daniel Ceballos' },
  { code: 'EM', name: 'Enrique Márquez' },
  { code: 'BERA', name: 'Benjamín Rausseo' },
] as const;

export const DEMO_ELECTION = {
  name: 'Elección presidencial 2024',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  openingTime: '06:00',
  candidates: DEMO_CANDIDATES,
};

/** The namespace of the demo's report ids: uuidv5('testigo demo ve2024 results', URL namespace). */
const NAMESPACE = uuidv5('urn:testigo:demo:ve2024:results', uuidv5.URL);
/** The id of the demo's results report of a table: the same on every run. */
export const demoReportId = (centreCode: string, table: number) => uuidv5(`${centreCode}/${table}`, NAMESPACE);
/** When the demo's tally sheets say they were observed (after the close of 28 July 2024, Caracas time). */
const OBSERVED_AT = '2024-07-28T20:00:00-04:00';

export interface DemoResultsProgress {
  /** Tally sheets sent so far, of `total`. */
  done: number;
  total: number;
  created: number;
  replayed: number;
  failed: number;
}

export interface DemoResultsOptions {
  /** `Authorization` header of a writer (an admin) to post as; by default a demo admin is created for the run. */
  authorization?: string;
  /** Reports per POST /v1/reports/batch (1–500; default 500). */
  batchSize?: number;
  /** The actas file (default: DEMO_ACTAS); .csv or .csv.gz with the columns of RESULTADOS_2024_CSV_V1. */
  file?: string;
  /** Called after each batch. */
  onProgress?: (progress: DemoResultsProgress) => void;
}

export interface DemoResults extends DemoResultsProgress {
  durationMs: number;
  /** GET /v1/summaries/national after the load (`results.votes`, `results.turnout`, `coverage.tablesCounted`). */
  national: {
    coverage: { tablesCounted: number; tables: number; centresReporting: number };
    results: {
      tablesCounted: number;
      registeredVoters: number;
      validVotes: number;
      nullVotes: number;
      votesCast: number;
      turnout: number | null;
      votes: Record<string, number>;
      shares: Record<string, number>;
    };
    [field: string]: unknown;
  };
}

type Acta = Record<string, string>;

/** The results report of one row of the actas (CENTRO zero-padded to the 9-digit CNE code, as the registry seed). */
export function demoReport(row: Acta) {
  const centreCode = row.CENTRO!.padStart(9, '0');
  const table = Number(row.MESA);
  return {
    id: demoReportId(centreCode, table),
    kind: 'results',
    centreCode,
    table,
    observedAt: OBSERVED_AT,
    answers: {
      registeredVoters: Number(row.RE),
      validVotes: Number(row.VOTOS_VALIDOS),
      nullVotes: Number(row.VOTOS_NULOS),
      votes: Object.fromEntries(DEMO_CANDIDATES.map(({ code }) => [code, Number(row[code])])),
      // The transcription does not record whether a citizen audit took place; the form requires an answer.
      citizenAudit: false,
    },
  };
}

/**
 * Sets the 2024 election and loads the real tally sheets as results reports through POST /v1/reports/batch of
 * `app` (which must have the 2024 registry: `npm run demo`). Throws when the API refuses the election or a batch,
 * or an item fails (created, replayed and conflicting counts are in the answer: a conflict means a report of
 * that id with other content already exists).
 */
export async function loadDemoResults(app: FastifyInstance, options: DemoResultsOptions = {}): Promise<DemoResults> {
  const started = performance.now();
  const batchSize = Math.min(500, Math.max(1, options.batchSize ?? 500));
  let authorization = options.authorization;
  if (!authorization) {
    const { token } = await app.services.users.createWithToken(systemContext('demo --with-results'), {
      name: 'Demo results loader',
      role: 'admin',
    });
    authorization = `Bearer ${token.token}`;
  }
  const headers = { authorization };

  const election = await app.inject({ method: 'PUT', url: '/v1/election', headers, payload: DEMO_ELECTION });
  if (election.statusCode !== 200) throw new Error(`PUT /v1/election: ${election.statusCode} ${election.body}`);

  const rows: Acta[] = [];
  for await (const row of openFile(options.file ?? DEMO_ACTAS).pipe(parse({ bom: true, columns: true }))) {
    rows.push(row as Acta);
  }
  const progress: DemoResultsProgress = { done: 0, total: rows.length, created: 0, replayed: 0, failed: 0 };
  for (let start = 0; start < rows.length; start += batchSize) {
    let pending = rows.slice(start, start + batchSize).map(demoReport);
    // An item the server failed on (a 5xx, say a deadlock), or the whole batch shed (503 under load), is sent
    // again: its id makes the retry a replay of whatever was stored.
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/reports/batch',
        headers,
        payload: { reports: pending },
      });
      const retry = attempt < 10;
      if (response.statusCode === 503 && retry) {
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        continue;
      }
      if (response.statusCode !== 200) {
        throw new Error(`POST /v1/reports/batch: ${response.statusCode} ${response.body.slice(0, 500)}`);
      }
      const { results } = response.json() as {
        results: { index: number; status: string; id?: string; problem?: { code: string; detail?: string } }[];
      };
      const again: typeof pending = [];
      for (const item of results) {
        if (item.status === 'created') progress.created += 1;
        else if (item.status === 'replayed') progress.replayed += 1;
        else if (item.status === 'error' && retry) again.push(pending[item.index]!);
        else if (item.status === 'conflict') progress.failed += 1;
        else throw new Error(`report ${item.id ?? '?'}: ${item.status} ${JSON.stringify(item.problem)}`);
      }
      progress.done += pending.length - again.length;
      pending = again;
    }
    options.onProgress?.({ ...progress });
  }

  const national = await app.inject({ url: '/v1/summaries/national', headers });
  if (national.statusCode !== 200) throw new Error(`GET /v1/summaries/national: ${national.statusCode}`);
  return { ...progress, durationMs: Math.round(performance.now() - started), national: national.json() };
}
