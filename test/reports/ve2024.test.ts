// All 24,532 real tally sheets of Venezuela's 2024 election (../shared/data/ve2024/actas-2024-v1.csv, or
// $VE2024_DIR) posted as results reports through POST /v1/reports/batch, read back through the NDJSON export
// and the summaries: every candidate's total, and every region's, must equal the file's. Skipped when the file is absent (it is not
// part of the repository).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEMO_REGISTRY } from '../../src/cli/registry-files.js';
import { setupTestApp } from '../helpers/app.js';
import {
  ACTAS,
  CANDIDATES,
  ELECTION_2024,
  actasPresent as present,
  readSheets,
  SHEETS,
  toReport,
} from '../helpers/ve2024.js';
import { expectTalliesMatchRecount } from '../summaries/recount.js';

const BATCH = 500;

if (!present)
  console.warn(`[ve2024 reports] skipped: ${ACTAS} not found (set VE2024_DIR to the folder holding actas-2024-v1.csv)`);

const sumVotes = (items: { votes: Record<string, number> }[]) => {
  const totals: Record<string, number> = Object.fromEntries(CANDIDATES.map((code) => [code, 0]));
  for (const item of items)
    for (const [code, votes] of Object.entries(item.votes)) totals[code] = (totals[code] ?? 0) + votes;
  return totals;
};

interface BatchResult {
  created: number;
  replayed: number;
  failed: number;
  results: { index: number; id: string | null; status: string; problem?: unknown }[];
}

// National-size bodies on a busy machine: load shedding (503 SERVICE_OVERLOADED) is not what this tests.
const context = present
  ? await setupTestApp({ env: { MAX_EVENT_LOOP_DELAY_MS: '0', RATE_LIMIT_PER_TOKEN: '0' } })
  : undefined;

describe.skipIf(!present)(
  `the 24,532 tally sheets of 2024 as results reports${present ? '' : ` (skipped: ${ACTAS} not found; set VE2024_DIR)`}`,
  () => {
    it(
      "are all created through the batch route, export with the file's exact sums, and replay",
      async () => {
        const { app, db, admin } = context!;
        const post = (url: string, payload: unknown) =>
          app.inject({ method: 'POST', url, headers: admin.headers, payload: payload as Record<string, unknown> });

        const sheets = readSheets();
        expect(sheets).toHaveLength(SHEETS);
        expect(new Set(sheets.map((sheet) => `${sheet.centre}#${sheet.table}`)).size).toBe(SHEETS);
        const fileTotals = sumVotes(sheets);
        // The published totals of this transcription (README of the data), as a check on the file itself.
        expect(fileTotals.EG).toBe(7_156_462);
        expect(fileTotals.NM).toBe(3_241_461);
        expect(CANDIDATES.slice(2).reduce((total, code) => total + fileTotals[code]!, 0)).toBe(261_205);

        const registry = await app.inject({
          method: 'POST',
          url: '/v1/registry/import',
          headers: { 'content-type': 'text/csv', ...admin.headers },
          body: gunzipSync(readFileSync(DEMO_REGISTRY)),
        });
        expect(registry.statusCode, registry.body).toBe(200);
        expect(registry.json()).toMatchObject({ tables: { created: SHEETS } });
        const election = await app.inject({
          method: 'PUT',
          url: '/v1/election',
          headers: admin.headers,
          payload: ELECTION_2024,
        });
        expect(election.statusCode, election.body).toBe(200);

        const reports = sheets.map(toReport);
        const batches: (typeof reports)[] = [];
        for (let start = 0; start < reports.length; start += BATCH) batches.push(reports.slice(start, start + BATCH));

        const started = performance.now();
        let slowest = 0;
        for (const [number, batch] of batches.entries()) {
          const batchStarted = performance.now();
          const response = await post('/v1/reports/batch', { reports: batch });
          slowest = Math.max(slowest, performance.now() - batchStarted);
          expect(response.statusCode, response.body.slice(0, 2000)).toBe(200);
          const result = response.json<BatchResult>();
          const notCreated = result.results.filter((item) => item.status !== 'created');
          expect(notCreated, `batch ${number}: ${JSON.stringify(notCreated.slice(0, 3))}`).toEqual([]);
          expect(result).toMatchObject({ created: batch.length, replayed: 0, failed: 0 });
          expect(result.results.map((item) => item.id)).toEqual(batch.map((report) => report.id));
        }
        const seconds = (performance.now() - started) / 1000;
        console.log(
          `ve2024 ingest: ${SHEETS} results reports in ${batches.length} batches of ${BATCH} in ${seconds.toFixed(1)} s ` +
            `= ${(SHEETS / seconds).toFixed(0)} reports/s (slowest batch ${(slowest / 1000).toFixed(2)} s)`,
        );

        const [counts] = await db.query<{ reports: number; revisions: number; accepted: number; flagged: number }>(
          `SELECT (SELECT count(*)::int FROM reports WHERE kind = 'results') AS reports,
              (SELECT count(*)::int FROM report_revisions) AS revisions,
              (SELECT count(*)::int FROM audit_entries WHERE action = 'report.accepted') AS accepted,
              (SELECT count(*)::int FROM reports WHERE cardinality(flags) > 0) AS flagged`,
        );
        // Every sheet adds up, is within its table's registered voters, and matches the registry: no flags.
        expect(counts).toEqual({ reports: SHEETS, revisions: SHEETS, accepted: SHEETS, flagged: 0 });

        const exportStarted = performance.now();
        const exported = await app.inject({
          url: '/v1/reports/export?format=ndjson&kind=results',
          headers: admin.headers,
        });
        expect(exported.statusCode, exported.body.slice(0, 2000)).toBe(200);
        expect(exported.headers['content-type']).toMatch(/^application\/x-ndjson/);
        const lines = exported.body.split('\n').filter((line) => line.length > 0);
        expect(JSON.parse(lines.pop()!)).toEqual({ complete: true, rows: SHEETS });
        const items = lines.map(
          (line) => JSON.parse(line) as { id: string; answers: { votes: Record<string, number> } },
        );
        console.log(
          `ve2024 export: ${items.length} reports, ${(exported.rawPayload.length / 1_048_576).toFixed(1)} MB of NDJSON in ${((performance.now() - exportStarted) / 1000).toFixed(1)} s`,
        );
        expect(items).toHaveLength(SHEETS);
        expect(new Set(items.map((item) => item.id)).size).toBe(SHEETS);
        expect(sumVotes(items.map((item) => item.answers))).toEqual(fileTotals);

        // The summaries: the national row gives the published figures, and every region's row the sums of
        // its sheets in the file (each sheet placed by its centre's codes in the registry).
        const summaryStarted = performance.now();
        const national = (await app.inject({ url: '/v1/summaries/national', headers: admin.headers })).json();
        console.log(`ve2024 national summary: ${(performance.now() - summaryStarted).toFixed(0)} ms (first read)`);
        expect(national.results).toMatchObject({
          tablesCounted: SHEETS,
          registeredVoters: 17_745_239,
          votesCast: 10_660_267,
          votes: fileTotals,
        });
        expect(national.results.votes.EG).toBe(7_156_462);
        expect(national.results.votes.NM).toBe(3_241_461);
        expect(CANDIDATES.slice(2).reduce((total, code) => total + national.results.votes[code], 0)).toBe(261_205);
        expect(national.results.turnout).toBeCloseTo(10_660_267 / 17_745_239, 12);
        expect((national.results.turnout * 100).toFixed(2)).toBe('60.07');
        expect(national.coverage).toMatchObject({
          centres: 12_817,
          tables: SHEETS,
          registeredVoters: 17_745_239,
          tablesCounted: SHEETS,
          tablesCountedShare: 1,
        });
        const placed = new Map(
          (
            await db.query<{ code: string; state: string; municipality: string; parish: string }>(
              'SELECT code, state_code AS state, municipality_code AS municipality, parish_code AS parish FROM centres',
            )
          ).map((row) => [row.code, row]),
        );
        for (const level of ['state', 'municipality', 'parish'] as const) {
          const expected = new Map<
            string,
            {
              tables: number;
              registeredVoters: number;
              validVotes: number;
              nullVotes: number;
              votes: Record<string, number>;
            }
          >();
          for (const sheet of sheets) {
            const code = placed.get(sheet.centre)![level];
            const row = expected.get(code) ?? {
              tables: 0,
              registeredVoters: 0,
              validVotes: 0,
              nullVotes: 0,
              votes: Object.fromEntries(CANDIDATES.map((c) => [c, 0])),
            };
            row.tables += 1;
            row.registeredVoters += sheet.re;
            row.validVotes += sheet.valid;
            row.nullVotes += sheet.nulls;
            for (const code of CANDIDATES) row.votes[code]! += sheet.votes[code]!;
            expected.set(code, row);
          }
          const response = await app.inject({ url: `/v1/summaries?level=${level}`, headers: admin.headers });
          expect(response.statusCode, response.body.slice(0, 1000)).toBe(200);
          const rows = response.json().items as { code: string; results: Record<string, unknown> }[];
          expect(rows.length, level).toBe(expected.size);
          for (const row of rows) {
            const want = expected.get(row.code)!;
            expect(row.results, `${level} ${row.code}`).toMatchObject({
              tablesCounted: want.tables,
              registeredVoters: want.registeredVoters,
              validVotes: want.validVotes,
              nullVotes: want.nullVotes,
              votesCast: want.validVotes + want.nullVotes,
              votes: want.votes,
            });
          }
        }
        await expectTalliesMatchRecount(app, admin);

        const replayStarted = performance.now();
        const again = await post('/v1/reports/batch', { reports: batches[0] });
        console.log(
          `ve2024 replay of the first batch (${batches[0]!.length}): ${((performance.now() - replayStarted) / 1000).toFixed(2)} s`,
        );
        expect(again.statusCode, again.body.slice(0, 2000)).toBe(200);
        const replayed = again.json<BatchResult>();
        expect(replayed).toMatchObject({ created: 0, replayed: batches[0]!.length, failed: 0 });
        expect(replayed.results.every((item) => item.status === 'replayed')).toBe(true);
        const [after] = await db.query<{ reports: number; accepted: number }>(
          "SELECT (SELECT count(*)::int FROM reports) AS reports, (SELECT count(*)::int FROM audit_entries WHERE action = 'report.accepted') AS accepted",
        );
        expect(after).toEqual({ reports: SHEETS, accepted: SHEETS });
      },
      15 * 60_000,
    );
  },
);
