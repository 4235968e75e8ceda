// One of two API processes killed (SIGKILL) under load: phones spread their attempts over both servers and,
// when one dies, retry (same id, same body) on the other. Reports in flight at the kill may have been
// stored without an answer; their retry must be answered 200 with the stored report, never stored twice.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { registrySample } from '../helpers/factories.js';
import { expectAcknowledgedStoredOnce, newStats, phoneReport, runPhones } from '../helpers/phones.js';
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
const REPORTS = 600;
const PHONES = 24;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let dataDir = '';
const servers: ServerProcess[] = [];
const bases: string[] = [];

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-fault-api-'));
  for (let i = 0; i < 2; i += 1)
    servers.push(startServer({ DATABASE_URL: db.url, DATA_DIR: dataDir, RATE_LIMIT_PER_TOKEN: '0' }));
  for (const server of servers) bases.push(await server.listening(60_000));
  for (const base of bases) await waitForOk(`${base}/readyz`, 30_000);
  const imported = await fetch(`${bases[0]}/v1/registry/import`, {
    method: 'POST',
    headers: { ...adminHeaders, 'content-type': 'text/csv' },
    body: sample,
  });
  expect(imported.status, await imported.text()).toBe(200);
}, 180_000);

afterAll(async () => {
  for (const server of servers) await server.stop('SIGTERM', 15_000).catch(() => undefined);
  await killAllServers();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('one of two API processes killed', () => {
  it('SIGKILL of one server under load: the phones retry on the other, every report stored exactly once', async () => {
    const stats = newStats();
    const reports = Array.from({ length: REPORTS }, (_, i) => phoneReport(i));
    const phones = runPhones({
      bases: () => bases,
      token: TEST_ADMIN_TOKEN,
      reports,
      phones: PHONES,
      deadline: Date.now() + 120_000,
      stats,
    });
    const deadline = Date.now() + 60_000;
    while (stats.acknowledged.size < REPORTS / 3 && Date.now() < deadline) await sleep(20);
    const inFlight = stats.attempts - Object.values(stats.statuses).reduce((sum, n) => sum + n, 0);
    await servers[0]!.stop('SIGKILL', 10_000);
    const acknowledgedAtKill = stats.acknowledged.size;
    await phones;
    console.log(
      `api kill: SIGKILL of server 1 after ${acknowledgedAtKill} acknowledgements, with ${inFlight} attempts in flight`,
    );
    await expectAcknowledgedStoredOnce('one of two API processes killed', stats, db.query.bind(db));
    // The kill was real (attempts failed on the dead server), and nothing but 201/200 came from the living one.
    expect(stats.statuses.network ?? 0).toBeGreaterThan(0);
    expect(stats.badAnswers, 'answers that were 500, or 5xx without Retry-After').toEqual([]);
    expect(
      Object.keys(stats.statuses).filter((status) => !['201', '200', '503', 'network'].includes(status)),
      JSON.stringify(stats.statuses),
    ).toEqual([]);
    expect(servers[1]!.hasExited()).toBe(false);
    const live = await fetch(`${bases[1]}/v1/summaries/national`, { headers: adminHeaders });
    const recount = await fetch(`${bases[1]}/v1/summaries/national?since=2000-01-01T00:00:00Z`, {
      headers: adminHeaders,
    });
    const [liveBody, recountBody] = [
      (await live.json()) as { reports: unknown },
      (await recount.json()) as { reports: unknown },
    ];
    expect(liveBody.reports).toEqual(recountBody.reports);
    expect((liveBody.reports as { total: number }).total).toBe(REPORTS);
  }, 180_000);
});
