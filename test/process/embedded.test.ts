// The embedded default, end to end: the built server with no DATABASE_URL starts its own PostgreSQL
// under DATA_DIR, serves, stops it on SIGTERM, and finds its data again on the next start.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/infra/db/migrator.js';
import { registrySample } from '../helpers/factories.js';
import {
  adminHeaders,
  ensureBuilt,
  isAlive,
  killAllServers,
  livePostmaster,
  type ServerProcess,
  startServer,
  stopLeftoverPostmaster,
  waitForOk,
  within,
} from '../helpers/server-process.js';

const sample = Buffer.from(registrySample);
let dataDir: string;

beforeAll(async () => {
  await ensureBuilt();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-embedded-'));
}, 180_000);

afterAll(async () => {
  await killAllServers();
  if (dataDir) {
    await stopLeftoverPostmaster(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
}, 60_000);

/** Asserts that the process exited cleanly and left no PostgreSQL running on DATA_DIR. */
async function stopAndCheck(server: ServerProcess): Promise<void> {
  const postmaster = livePostmaster(dataDir);
  expect(postmaster, 'an embedded postmaster runs while the server does').toBeDefined();
  const started = Date.now();
  const exit = await server.stop('SIGTERM', 15_000);
  expect(exit, server.stderr()).toEqual({ code: 0, signal: null });
  expect(Date.now() - started).toBeLessThan(15_000);
  // The postmaster (run as the postgres user, not our child) is gone, and with it its pid file.
  expect(isAlive(postmaster!), `postmaster ${postmaster} still running after the server exited`).toBe(false);
  expect(livePostmaster(dataDir), 'a live postmaster on DATA_DIR').toBeUndefined();
  expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'postmaster.pid left behind').toBe(false);
  expect(
    server.logs.some((line) => line.msg === 'embedded PostgreSQL stopped'),
    'log line "embedded PostgreSQL stopped"',
  ).toBe(true);
}

describe('embedded default (no DATABASE_URL)', () => {
  it('starts its own PostgreSQL, serves, and stops it on SIGTERM with exit code 0', async () => {
    const server = startServer({ DATA_DIR: dataDir });
    const base = await server.listening(90_000);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(base).not.toMatch(/:0$/);
    expect(server.logs.some((line) => line.msg === 'embedded PostgreSQL started')).toBe(true);

    const ready = await waitForOk(`${base}/readyz`, 30_000);
    expect(await ready.json()).toEqual({ status: 'ready', migrations: (await readMigrations()).length, storage: 'ok' });

    const imported = await fetch(`${base}/v1/registry/import`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', ...adminHeaders },
      body: sample,
      signal: AbortSignal.timeout(20_000),
    });
    expect(imported.status).toBe(200);
    expect(await imported.json()).toMatchObject({ rows: 8, tables: { created: 8 } });

    const centre = await fetch(`${base}/v1/centres/010101001`, {
      headers: adminHeaders,
      signal: AbortSignal.timeout(10_000),
    });
    expect(centre.status).toBe(200);
    const body = (await centre.json()) as { code: string; tables: { number: number }[] };
    expect(body.code).toBe('010101001');
    expect(body.tables).toHaveLength(2);

    await stopAndCheck(server);
  }, 120_000);

  it('finds the same data on the next start on the same DATA_DIR', async () => {
    const server = startServer({ DATA_DIR: dataDir });
    const base = await server.listening(90_000);
    // Second start: no initdb, no pending migration.
    expect(server.logs.some((line) => /initialising/.test(line.msg ?? ''))).toBe(false);
    await waitForOk(`${base}/readyz`, 30_000);

    const regions = await fetch(`${base}/v1/regions?level=parish`, {
      headers: adminHeaders,
      signal: AbortSignal.timeout(10_000),
    });
    expect(regions.status).toBe(200);
    const { items } = (await regions.json()) as { items: { code: string; level: string }[] };
    expect(items.map((item) => item.code).sort()).toEqual(['010101', '010102', '130101', '130201']);
    expect(items.every((item) => item.level === 'parish')).toBe(true);

    await stopAndCheck(server);
  }, 120_000);

  it('adopts the PostgreSQL orphaned by a killed server, and stops it on SIGTERM', async () => {
    const killed = startServer({ DATA_DIR: dataDir });
    await waitForOk(`${await killed.listening(90_000)}/readyz`, 30_000);
    const orphan = livePostmaster(dataDir);
    expect(orphan).toBeDefined();
    killed.child.kill('SIGKILL');
    await within(killed.exited, 10_000, 'the killed server to exit');
    expect(isAlive(orphan!), 'PostgreSQL outlives a SIGKILLed server').toBe(true);

    const server = startServer({ DATA_DIR: dataDir });
    const base = await server.listening(90_000);
    expect(server.logs.some((line) => /adopting an orphaned embedded PostgreSQL/.test(line.msg ?? ''))).toBe(true);
    expect(livePostmaster(dataDir)).toBe(orphan);
    const regions = await fetch(`${base}/v1/regions?level=parish`, {
      headers: adminHeaders,
      signal: AbortSignal.timeout(10_000),
    });
    expect(((await regions.json()) as { items: unknown[] }).items).toHaveLength(4);

    const exit = await server.stop('SIGTERM', 15_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(isAlive(orphan!), 'the adopted PostgreSQL is stopped with the server').toBe(false);
  }, 120_000);

  it('exits non-zero at once, naming PORT, when PORT is not a number', async () => {
    const server = startServer({ DATA_DIR: dataDir, PORT: 'abc' });
    const exit = await within(server.exited, 10_000, 'the misconfigured server to exit');
    expect(exit.code).not.toBe(0);
    expect(exit.code).toBe(78); // EX_CONFIG
    expect(server.stderr()).toMatch(/Invalid configuration/);
    expect(server.stderr()).toMatch(/PORT/);
    // It never got as far as starting a database.
    expect(livePostmaster(dataDir)).toBeUndefined();
  }, 30_000);
});
