// Faults of PostgreSQL under load, on a PostgreSQL of this test's own (test/helpers/own-postgres.ts): stopped
// (pg_ctl stop -m fast) for 10 s and started again, then killed with SIGKILL and restarted, while phones keep
// sending reports to the built server and retry (same id, same body) until each is acknowledged. Nothing
// acknowledged may be lost or stored twice; the server answers only 201/200, or 503 with Retry-After.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrySample } from '../helpers/factories.js';
import { type OwnPostgres, startOwnPostgres } from '../helpers/own-postgres.js';
import { expectAcknowledgedStoredOnce, newStats, type PhoneStats, phoneReport, runPhones } from '../helpers/phones.js';
import {
  adminHeaders,
  ensureBuilt,
  killAllServers,
  type ServerProcess,
  startServer,
  TEST_ADMIN_TOKEN,
  waitForOk,
} from '../helpers/server-process.js';

const sample = registrySample;
const REPORTS = 500;
const PHONES = 16;
const OUTAGE_MS = 10_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let pg: OwnPostgres | undefined;
let server: ServerProcess;
let dataDir = '';
let base = '';
let stored = 0;

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const query = <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => pg!.query<T>(sql, params);

/** The live national summary equals its recount from the reports, and both count every report. */
async function expectTalliesEqualCount(label: string): Promise<void> {
  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`, { headers: adminHeaders, signal: AbortSignal.timeout(30_000) });
    expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
    return (await response.json()) as {
      reports: { total: number; byKind: Record<string, number> };
      incidents: unknown;
      coverage: unknown;
    };
  };
  const live = await get('/v1/summaries/national');
  const recount = await get('/v1/summaries/national?since=2000-01-01T00:00:00Z');
  const [{ total }] = (await query<{ total: number }>('SELECT count(*)::int AS total FROM reports')) as [
    { total: number },
  ];
  console.log(
    `${label}: national summary counts ${live.reports.total} reports, its recount ${recount.reports.total}, count(*) ${total}`,
  );
  expect(live.reports).toEqual(recount.reports);
  expect(live.incidents).toEqual(recount.incidents);
  expect(live.coverage).toEqual(recount.coverage);
  expect(live.reports.total).toBe(total);
}

/** Starts the phones, runs `fault` once `REPORTS / 4` are acknowledged, and waits for every report to be acknowledged. */
async function underLoad(label: string, fault: (stats: PhoneStats) => Promise<void>): Promise<PhoneStats> {
  const stats = newStats();
  const reports = Array.from({ length: REPORTS }, (_, i) => phoneReport(i));
  const phones = runPhones({
    bases: () => [base],
    token: TEST_ADMIN_TOKEN,
    reports,
    phones: PHONES,
    deadline: Date.now() + 150_000,
    stats,
  });
  let faultError: unknown;
  const faulted = (async () => {
    await waitFor(
      () => stats.acknowledged.size >= REPORTS / 4,
      60_000,
      `${REPORTS / 4} acknowledged reports before the fault`,
    );
    await fault(stats);
  })().catch((error: unknown) => {
    faultError = error;
  });
  await Promise.all([phones, faulted]);
  if (faultError) throw faultError;
  await expectAcknowledgedStoredOnce(label, stats, query, { otherReports: stored });
  stored += stats.acknowledged.size;
  // Only acknowledgements, and 503s that say when to retry: never a 500, never a 5xx without Retry-After.
  expect(stats.badAnswers, 'answers that were 500, or 5xx without Retry-After').toEqual([]);
  expect(
    Object.keys(stats.statuses).filter((status) => !['201', '200', '503'].includes(status)),
    `statuses ${JSON.stringify(stats.statuses)}`,
  ).toEqual([]);
  await expectTalliesEqualCount(label);
  return stats;
}

beforeAll(async () => {
  await ensureBuilt();
  pg = await startOwnPostgres();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-fault-pg-'));
  server = startServer({
    DATABASE_URL: pg.url(),
    DATA_DIR: dataDir,
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    RATE_LIMIT_PER_TOKEN: '0',
  });
  base = await server.listening(60_000);
  await waitForOk(`${base}/readyz`, 30_000);
  const imported = await fetch(`${base}/v1/registry/import`, {
    method: 'POST',
    headers: { ...adminHeaders, 'content-type': 'text/csv' },
    body: sample,
  });
  expect(imported.status, await imported.text()).toBe(200);
}, 180_000);

afterAll(async () => {
  await server?.stop('SIGTERM', 15_000).catch(() => undefined);
  await killAllServers();
  await pg?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('PostgreSQL faults under load (a PostgreSQL of its own)', () => {
  it('PostgreSQL stopped for 10 s and started again: every report acknowledged exactly once, only 201/200/503', async () => {
    let during = 0;
    const stats = await underLoad('pg_ctl stop -m fast, 10 s down', async (running) => {
      await pg!.stop('fast');
      const before = running.statuses['503'] ?? 0;
      // The outage itself lasts a fixed time: that is the fault being tested.
      await sleep(OUTAGE_MS);
      during = (running.statuses['503'] ?? 0) - before;
      await pg!.start();
    });
    // The outage was real: the phones were answered 503 while PostgreSQL was down, and retried.
    expect(during).toBeGreaterThan(0);
    expect(stats.attempts).toBeGreaterThan(REPORTS);
    expect(server.hasExited()).toBe(false);
  }, 240_000);

  it('PostgreSQL killed with SIGKILL and restarted: every report acknowledged exactly once, only 201/200/503', async () => {
    const stats = await underLoad('postmaster SIGKILL, then restart', async () => {
      const killedAt = Date.now();
      await pg!.kill();
      const goneAt = Date.now();
      await pg!.start(); // crash recovery replays the WAL
      console.log(
        `postmaster SIGKILL: backends gone after ${goneAt - killedAt} ms, restarted (recovery done) ${Date.now() - goneAt} ms later`,
      );
    });
    expect(stats.attempts).toBeGreaterThanOrEqual(REPORTS);
    expect(server.hasExited()).toBe(false);
  }, 240_000);
});
