// Liveness and readiness as an orchestrator sees them, and a photo store that goes away:
// /healthz is never shed under load; /readyz answers within a second, from a connection of its own (a busy
// pool is not "the database cannot be reached"), and says whether the photo store answers; an unreachable
// S3 endpoint is 503 STORAGE_UNAVAILABLE (never DATABASE_UNAVAILABLE), with one alert per outage.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, describe, expect, it } from 'vitest';
import { setupTestApp } from '../helpers/app.js';
import { capturingLogger, jpeg, prepareReport, uploadPhoto } from '../helpers/photo-upload.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Keeps the event loop busy for `ms` (what a heavy read does to everyone else). */
function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

describe('GET /healthz under load', async () => {
  const { app } = await setupTestApp({ env: { MAX_EVENT_LOOP_DELAY_MS: '1' } });

  it('GET /healthz › 200 while @fastify/under-pressure sheds other requests with 503 SERVICE_OVERLOADED', async () => {
    let shed = 0;
    for (let round = 0; round < 40 && shed < 3; round += 1) {
      block(150);
      await sleep(5);
      // Side by side: the same pressure state answers both.
      const [other, live] = await Promise.all([app.inject('/v1/election'), app.inject('/healthz')]);
      if (other.statusCode === 503) {
        expect(other.json()).toMatchObject({ code: 'SERVICE_OVERLOADED' });
        shed += 1;
      }
      expect(live.statusCode, live.body).toBe(200);
      expect(live.json()).toEqual({ status: 'ok' });
    }
    expect(shed, 'the load shedder never engaged: the test proved nothing').toBeGreaterThan(0);
  }, 60_000);
});

describe('GET /readyz does not depend on the request pool', async () => {
  const { app } = await setupTestApp({
    env: { DATABASE_POOL_MAX: '1', DATABASE_CONNECT_TIMEOUT_MS: '3000', MAX_EVENT_LOOP_DELAY_MS: '0' },
  });

  it('GET /readyz › 200 within a second while every pooled connection is busy', async () => {
    const held = await app.db.pool.connect(); // the pool's only connection, checked out
    try {
      const started = Date.now();
      const response = await app.inject('/readyz');
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({ status: 'ready', storage: 'ok' });
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      held.release();
    }
  });
});

describe('GET /readyz when the database does not answer', async () => {
  // A listener that accepts and never answers: the pool would wait DATABASE_CONNECT_TIMEOUT_MS (3 s).
  const sockets: Socket[] = [];
  const silent: Server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  const { app } = await setupTestApp({
    databaseUrl: `postgresql://postgres@127.0.0.1:${port}/none`,
    env: { DATABASE_CONNECT_TIMEOUT_MS: '3000', MAX_EVENT_LOOP_DELAY_MS: '0' },
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });

  it('GET /readyz › 503 NOT_READY "cannot be reached" within a second', async () => {
    const started = Date.now();
    const response = await app.inject('/readyz');
    const elapsed = Date.now() - started;
    expect(response.statusCode, response.body).toBe(503);
    expect(response.json()).toMatchObject({ code: 'NOT_READY', detail: 'The database cannot be reached.' });
    expect(elapsed).toBeLessThan(1500); // bounded at 800 ms, plus a loaded machine's slack
  });
});

/** A port nothing listens on (taken and released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('an S3 photo store that cannot be reached', async () => {
  const port = await closedPort();
  const { logger, lines } = capturingLogger();
  const { app, admin } = await setupTestApp({
    env: {
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_BUCKET: 'testigo',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      MAX_EVENT_LOOP_DELAY_MS: '0',
    },
    loggerInstance: logger,
  });
  const reportId = await prepareReport(app, admin);
  const directory = await mkdtemp(join(tmpdir(), 'testigo-s3-later-'));
  let s3: S3rver | undefined;
  afterAll(async () => {
    await s3?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('POST /v1/reports/{id}/photos › 503 STORAGE_UNAVAILABLE with Retry-After; /readyz › 200 "storage": "unreachable"; one alert per outage', async () => {
    const photo = await jpeg(3);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await uploadPhoto(app, admin, reportId, photo);
      expect(response.statusCode, response.body).toBe(503);
      expect(response.headers['retry-after']).toMatch(/^\d+$/);
      expect(response.json()).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      expect(response.json().detail).not.toMatch(/database|ECONN|127\.0\.0\.1/i);
    }
    const ready = await app.inject('/readyz');
    expect(ready.statusCode, ready.body).toBe(200); // reports still flow
    expect(ready.json()).toMatchObject({ status: 'ready', storage: 'unreachable' });
    expect(lines.filter((line) => line.event === 'storage.unavailable')).toHaveLength(1);
    expect(lines.filter((line) => line.event === 'storage.unavailable')[0]!.level).toBeGreaterThanOrEqual(50);

    // The store comes back on the same address: uploads work, one storage.recovered, readiness says ok.
    s3 = new S3rver({
      port,
      address: '127.0.0.1',
      silent: true,
      directory,
      configureBuckets: [{ name: 'testigo', configs: [] }],
    });
    await s3.run();
    const stored = await uploadPhoto(app, admin, reportId, photo);
    expect(stored.statusCode, stored.body).toBe(201);
    expect(lines.filter((line) => line.event === 'storage.recovered')).toHaveLength(1);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const again = await app.inject('/readyz');
      if (again.json().storage === 'ok') break;
      if (Date.now() > deadline) throw new Error(`readiness still says ${again.body}`);
      await sleep(100);
    }
    expect(lines.filter((line) => line.event === 'storage.unavailable')).toHaveLength(1);
  }, 60_000);
});
