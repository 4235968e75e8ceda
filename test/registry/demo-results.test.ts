// `npm run demo -- --with-results`: the 24,532 real tally sheets of 2024 loaded through POST /v1/reports/batch of
// the real app (src/cli/demo-results.ts) give the published national outcome, and a second run appends nothing.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoReportId, loadDemoResults } from '../../src/cli/demo-results.js';
import { DEMO_REGISTRY } from '../../src/cli/registry-files.js';
import { setupTestApp } from '../helpers/app.js';

// National-size work on a busy machine: load shedding (503 SERVICE_OVERLOADED) is not what this tests.
const { app, db, admin } = await setupTestApp({ env: { MAX_EVENT_LOOP_DELAY_MS: '0', RATE_LIMIT_PER_TOKEN: '0' } });
const count = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM reports'))[0]!.n);

beforeAll(async () => {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/registry/import',
    headers: { 'content-type': 'text/csv', ...admin.headers },
    body: gunzipSync(readFileSync(DEMO_REGISTRY)),
  });
  expect(response.statusCode, response.body).toBe(200);
}, 300_000);

describe('loadDemoResults', () => {
  it('loads 24,532 tally sheets: González 7,156,462, Maduro 3,241,461, turnout 60.07%', {
    timeout: 900_000,
  }, async () => {
    const seen: number[] = [];
    const loaded = await loadDemoResults(app, { onProgress: (progress) => seen.push(progress.done) });
    console.log(`demo results: first run ${loaded.durationMs} ms`);
    expect(loaded).toMatchObject({ total: 24_532, done: 24_532, created: 24_532, replayed: 0, failed: 0 });
    expect(seen).toHaveLength(50);
    expect(await count()).toBe(24_532);
    const { results, coverage } = loaded.national;
    expect(coverage.tablesCounted).toBe(24_532);
    expect(results.tablesCounted).toBe(24_532);
    expect(results.votes.EG).toBe(7_156_462);
    expect(results.votes.NM).toBe(3_241_461);
    expect(results.registeredVoters).toBe(17_745_239);
    expect(results.validVotes).toBe(10_659_128);
    expect(results.nullVotes).toBe(1_139);
    expect(results.votesCast).toBe(10_660_267);
    expect(((results.turnout ?? 0) * 100).toFixed(2)).toBe('60.07');
    // Exactly what the API answers, and what the dashboard reads.
    const national = (await app.inject({ url: '/v1/summaries/national', headers: admin.headers })).json();
    expect(national.results).toEqual(results);
    // No tally sheet was flagged: they add up, and their registered voters are the registry's.
    expect(national.flags.flagged).toBe(0);
    const [first] = await db.query<{ id: string }>(
      `SELECT id FROM reports WHERE centre_code = '010113042' AND table_number = 1`,
    );
    expect(first!.id).toBe(demoReportId('010113042', 1));
  });

  it('a second run (as another admin) replays every report and appends nothing', { timeout: 900_000 }, async () => {
    const audit = async () =>
      Number(
        (await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_entries WHERE action LIKE 'report%'`))[0]!.n,
      );
    const before = await audit();
    const again = await loadDemoResults(app, { authorization: admin.headers.authorization, batchSize: 250 });
    console.log(`demo results: second run ${again.durationMs} ms`);
    expect(again).toMatchObject({ total: 24_532, created: 0, replayed: 24_532, failed: 0 });
    expect(await count()).toBe(24_532);
    expect(again.national.results.votes.EG).toBe(7_156_462);
    // No report written, so no report audited again.
    expect(await audit()).toBe(before);
  });
});
