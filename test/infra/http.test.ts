import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { setupTestApp, testConfig } from '../helpers/app.js';

describe('GET /healthz and /readyz', async () => {
  const { app } = await setupTestApp();

  it('GET /healthz › 200 while the process runs', async () => {
    const response = await app.inject('/healthz');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz › 200 with the database reachable and migrated', async () => {
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ready' });
  });
});

describe('GET /readyz › 503 NOT_READY when migrations are not applied', async () => {
  const { app } = await setupTestApp({ migrated: false });
  it('answers 503 with Retry-After', async () => {
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
    expect(response.json()).toMatchObject({ code: 'NOT_READY' });
  });
});

describe('a stopped PostgreSQL gives fast 503s, not hung requests', async () => {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  // Summaries are public in both, so that their reads (on the pg pool directly, not through Prisma) reach the database.
  const refused = await setupTestApp({
    databaseUrl: 'postgresql://postgres@127.0.0.1:1/none',
    env: { PUBLIC_SUMMARIES: 'true' },
  });
  // A listener that accepts and never answers: only the connect timeout can end the wait.
  const sockets: Socket[] = [];
  const silent: Server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  const hung = await setupTestApp({
    databaseUrl: `postgresql://postgres@127.0.0.1:${port}/none`,
    env: { DATABASE_CONNECT_TIMEOUT_MS: '300', PUBLIC_SUMMARIES: 'true' },
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });

  it.each([
    ['refused', refused.app],
    ['silent', hung.app],
  ])('%s: GET /v1/regions › 503 DATABASE_UNAVAILABLE, /readyz › 503, /healthz › 200', async (_name, app) => {
    const started = Date.now();
    const response = await app.inject({
      url: '/v1/regions',
      headers: { authorization: 'Bearer tg_any-token-the-database-would-check' },
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect(response.json().detail).not.toMatch(/127\.0\.0\.1|ECONN|postgres/i);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  it.each([
    ['refused', refused.app],
    ['silent', hung.app],
  ])('%s: GET /v1/summaries/national › 503 DATABASE_UNAVAILABLE', async (_name, app) => {
    const response = await app.inject('/v1/summaries/national');
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect(response.headers['retry-after']).toBeDefined();
  });
});

describe('problems, request ids and logs', async () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const { db, app: _unused } = await setupTestApp();
  const config = testConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'info' });
  const database = createDatabase(databaseOptions(config, db.url));
  const app = await buildApp({
    config,
    database,
    logger: { level: 'info', stream, redact: ['req.headers.authorization'] },
  });
  app.get('/test/boom', { config: { public: true } }, async () => {
    throw new Error('secret internal detail: password=hunter2');
  });
  app.post('/test/echo', { config: { public: true } }, async (request) => request.body);
  afterAll(() => app.close());

  it('echoes a client x-request-id in the header, the problem and the log', async () => {
    const response = await app.inject({ url: '/nowhere', headers: { 'x-request-id': 'phone-42.retry-3' } });
    expect(response.statusCode).toBe(404);
    expect(response.headers['x-request-id']).toBe('phone-42.retry-3');
    expect(response.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', requestId: 'phone-42.retry-3', status: 404 });
    expect(lines.some((line) => JSON.parse(line).requestId === 'phone-42.retry-3')).toBe(true);
  });

  it('replaces an unsafe x-request-id with a fresh one', async () => {
    const response = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'bad\nid {"level":60}' } });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('mints a request id when none is given', async () => {
    const response = await app.inject('/healthz');
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers 500 INTERNAL without leaking the internal message, and logs it', async () => {
    const response = await app.inject('/test/boom');
    expect(response.statusCode).toBe(500);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json();
    expect(problem).toMatchObject({ code: 'INTERNAL', status: 500, type: 'urn:testigo:problem:internal' });
    expect(JSON.stringify(problem)).not.toMatch(/hunter2|secret internal/);
    expect(lines.some((line) => line.includes('secret internal detail'))).toBe(true);
  });

  it('answers 400 MALFORMED_BODY for broken JSON', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      body: '{"a":',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('MALFORMED_BODY');
  });

  it('never logs the Authorization header', async () => {
    await app.inject({ url: '/healthz', headers: { authorization: 'Bearer tok_supersecret' } });
    expect(lines.join('\n')).not.toContain('tok_supersecret');
  });
});
