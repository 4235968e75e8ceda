// Slow and misbehaving clients against the built server (dist/server.js), on raw sockets: an upload that
// goes silent is cut after IDLE_TIMEOUT_MS and its staging file removed; an early refusal (401, 413, 415)
// answers `Connection: close` and closes the socket, so a pooled client's next request works; an upload
// whose staged file was lost answers a problem, not a 500; and SIGTERM does not wait for a client still
// sending the body of a refused upload.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { registrySample } from '../helpers/factories.js';
import { jpeg, multipart } from '../helpers/photo-upload.js';
import {
  adminHeaders,
  ensureBuilt,
  killAllServers,
  type ServerProcess,
  startServer,
  waitForOk,
  within,
} from '../helpers/server-process.js';

const sample = registrySample;
const IDLE_TIMEOUT_MS = 1000;
const PHOTO_MAX_BYTES = 1024 * 1024;
const SHUTDOWN_GRACE_MS = 20_000;
const REQUEST_TIMEOUT_MS = 3000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let dataDir: string;
let server: ServerProcess;
let base = '';
let port = 0;
let reportId = '';
const sockets = new Set<Socket>();

const staged = async () => readdir(join(dataDir, 'blobs', '.staging')).catch(() => [] as string[]);

async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

async function json(
  method: string,
  path: string,
  body: unknown,
  status: number,
  contentType = 'application/json',
): Promise<unknown> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...adminHeaders, 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  expect(response.status, `${method} ${path}: ${text}`).toBe(status);
  return JSON.parse(text);
}

interface RawExchange {
  socket: Socket;
  /** The status and headers of the answer, once its head has arrived. */
  head: Promise<{ status: number; headers: Record<string, string> }>;
  /** Resolves when the server closed its side (FIN or reset); the ms since the socket opened. */
  ended: Promise<number>;
}

/** Opens a socket and writes `head` (request line and headers) and `body`; never closes on its own. */
function raw(head: string, body: Buffer = Buffer.alloc(0)): RawExchange {
  const socket = connect(port, '127.0.0.1');
  sockets.add(socket);
  const opened = Date.now();
  socket.on('error', () => undefined); // a reset after the server closed: expected here
  let received = '';
  const headPromise = new Promise<{ status: number; headers: Record<string, string> }>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = received.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine!.split(' ')[1]), headers });
    });
    socket.on('close', () => reject(new Error(`closed without an answer; received: ${received.slice(0, 200)}`)));
  });
  headPromise.catch(() => undefined);
  const ended = new Promise<number>((resolve) => {
    socket.once('end', () => resolve(Date.now() - opened));
    socket.once('close', () => resolve(Date.now() - opened));
  });
  socket.write(head);
  if (body.length > 0) socket.write(body);
  return { socket, head: headPromise, ended };
}

const requestHead = (path: string, headers: Record<string, string | number>) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;

function serverEnv(): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
    PHOTO_MAX_BYTES: String(PHOTO_MAX_BYTES),
    SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
    REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    MAX_EVENT_LOOP_DELAY_MS: '0',
  };
}

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-slow-clients-'));
  server = startServer(serverEnv());
  base = await server.listening(60_000);
  port = Number(new URL(base).port);
  await waitForOk(`${base}/readyz`, 30_000);
  await json('POST', '/v1/registry/import', sample, 200, 'text/csv');
  await json(
    'PUT',
    '/v1/election',
    {
      name: 'E',
      date: '2024-07-28',
      timeZone: 'America/Caracas',
      candidates: [
        { code: 'EG', name: 'EG' },
        { code: 'NM', name: 'NM' },
      ],
    },
    200,
  );
  reportId = randomUUID();
  await json(
    'POST',
    '/v1/reports',
    {
      id: reportId,
      kind: 'voting',
      centreCode: '010101001',
      observedAt: '2024-07-28T14:00:00-04:00',
      answers: {
        queueLength: 'short',
        waitingMinutes: 10,
        assistedVotingProblems: false,
        identificationProblems: false,
        securityForces: 'appropriate',
        propagandaNearby: false,
      },
    },
    201,
  );
}, 180_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await killAllServers();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('slow and misbehaving clients', () => {
  it('POST /v1/reports/{id}/photos › an upload that sends its headers and 24 bytes and goes silent is cut after IDLE_TIMEOUT_MS, its staging file removed', async () => {
    const form = multipart(Buffer.alloc(0));
    const exchange = raw(
      requestHead(`/v1/reports/${reportId}/photos`, {
        ...adminHeaders,
        'content-type': form.contentType,
        'content-length': 5_000_000,
      }),
      Buffer.concat([form.preamble, (await jpeg(1)).subarray(0, 24)]),
    );
    await poll(async () => ((await staged()).length === 1 ? true : undefined), 5_000, 'the upload to be staged');
    const silentFrom = Date.now();
    const closedAfter = await within(exchange.ended, 10_000, 'the server to close the silent upload');
    const silentFor = Date.now() - silentFrom;
    expect(closedAfter).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 100);
    expect(silentFor).toBeLessThan(IDLE_TIMEOUT_MS + 4_000);
    await poll(async () => ((await staged()).length === 0 ? true : undefined), 3_000, 'the staging file to be removed');
    // Logged as a client gone, not as a failure of the database or the server.
    await server.waitForLog((line) => line.event === 'request.aborted', 5_000, "the aborted request's log line");
    expect(server.logs.filter((line) => (line.level as number) >= 50)).toEqual([]);
  }, 30_000);

  it('POST /v1/reports/{id}/photos › an upload trickling a byte at a time (never idle) is answered 408 and cut after REQUEST_TIMEOUT_MS', async () => {
    const form = multipart(Buffer.alloc(0));
    const exchange = raw(
      requestHead(`/v1/reports/${reportId}/photos`, {
        ...adminHeaders,
        'content-type': form.contentType,
        'content-length': 5_000_000,
      }),
      Buffer.concat([form.preamble, await jpeg(1)]),
    );
    const trickle = setInterval(
      () => exchange.socket.writable && exchange.socket.write(Buffer.alloc(1, 0x46)),
      IDLE_TIMEOUT_MS / 4,
    );
    try {
      const head = await within(exchange.head, REQUEST_TIMEOUT_MS + 10_000, 'the 408');
      expect(head.status).toBe(408);
      const closedAfter = await within(exchange.ended, 5_000, 'the server to close the socket');
      expect(closedAfter).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    } finally {
      clearInterval(trickle);
    }
    await poll(async () => ((await staged()).length === 0 ? true : undefined), 3_000, 'the staging file to be removed');
  }, 30_000);

  it.each([
    ['401 AUTH_REQUIRED, no token', `/v1/reports/{id}/photos`, {}, 'multipart', 401],
    [
      '404 NOT_FOUND, a photo for a report that does not exist',
      `/v1/reports/${randomUUID()}/photos`,
      adminHeaders,
      'multipart',
      404,
    ],
    ['415 UNSUPPORTED_MEDIA_TYPE, a JSON import', '/v1/registry/import', adminHeaders, 'application/json', 415],
    [
      '413 PAYLOAD_TOO_LARGE, an import declaring more than the limit',
      '/v1/users/import',
      { ...adminHeaders, 'content-length': 200_000_000 },
      'text/csv',
      413,
    ],
    ['401 AUTH_REQUIRED, an import without a token', '/v1/users/import', {}, 'text/csv', 401],
  ])(
    'an early refusal (%s) answers Connection: close and closes the socket with the body unread',
    async (_name, path, headers, type, status) => {
      const form = multipart(Buffer.alloc(0));
      const exchange = raw(
        requestHead(path.replace('{id}', reportId), {
          'content-length': 5_000_000,
          ...headers,
          'content-type': type === 'multipart' ? form.contentType : type,
        }),
        Buffer.alloc(64 * 1024, 0x41),
      );
      const head = await within(exchange.head, 10_000, 'the answer');
      expect(head.status).toBe(status);
      expect(head.headers.connection).toBe('close');
      // The client keeps its side open and sends nothing more: the server closes anyway.
      await within(exchange.ended, 5_000, 'the server to close the socket');
    },
    30_000,
  );

  it('POST /v1/reports/{id}/photos › 413 halfway through a photo answers Connection: close and closes the socket', async () => {
    const form = multipart(Buffer.alloc(0));
    const exchange = raw(
      requestHead(`/v1/reports/${reportId}/photos`, {
        ...adminHeaders,
        'content-type': form.contentType,
        'content-length': 3 * PHOTO_MAX_BYTES,
      }),
    );
    exchange.socket.write(form.preamble);
    exchange.socket.write(await jpeg(1));
    const chunk = Buffer.alloc(64 * 1024, 0x42);
    let answered = false;
    void exchange.head.then(
      () => (answered = true),
      () => (answered = true),
    );
    for (let sent = 0; sent < 2 * PHOTO_MAX_BYTES && !answered && !exchange.socket.destroyed; sent += chunk.length) {
      if (!exchange.socket.write(chunk))
        await Promise.race([new Promise((resolve) => exchange.socket.once('drain', resolve)), sleep(200)]);
    }
    const head = await within(exchange.head, 10_000, 'the 413');
    expect(head.status).toBe(413);
    expect(head.headers.connection).toBe('close');
    await within(exchange.ended, 5_000, 'the server to close the socket');
    await poll(async () => ((await staged()).length === 0 ? true : undefined), 3_000, 'the staging file to be removed');
  }, 30_000);

  it('a keep-alive client whose photo got 413 sends its next request successfully', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const send = (method: string, path: string, headers: Record<string, string | number>, body?: Buffer) =>
        new Promise<{ status: number; connection: string | undefined } | Error>((resolve) => {
          const request = httpRequest(
            `${base}${path}`,
            { method, agent, headers: { ...adminHeaders, ...headers } },
            (response: IncomingMessage) => {
              response.resume();
              response.on('end', () =>
                resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }),
              );
              response.on('error', resolve);
            },
          );
          request.on('error', resolve);
          request.end(body);
        });
      const form = multipart(Buffer.concat([await jpeg(1), Buffer.alloc(3 * PHOTO_MAX_BYTES, 0x43)]));
      const refused = await send(
        'POST',
        `/v1/reports/${reportId}/photos`,
        { 'content-type': form.contentType, 'content-length': form.body.length },
        form.body,
      );
      expect(refused).toMatchObject({ status: 413, connection: 'close' });
      for (let i = 0; i < 3; i += 1) {
        const next = await send('GET', '/v1/election', {});
        expect(next instanceof Error ? String(next) : next.status).toBe(200);
        // Answers after the whole request was read keep the connection, errors included.
        expect(next).toMatchObject({ connection: 'keep-alive' });
      }
      expect(await send('GET', '/v1/no-such-route', {})).toMatchObject({ status: 404, connection: 'keep-alive' });
      expect(await send('GET', '/v1/election', { authorization: 'Bearer nonsense' })).toMatchObject({
        status: 401,
        connection: 'keep-alive',
      });
      const report = Buffer.from(JSON.stringify({ id: 'not-a-uuid' }));
      expect(
        await send(
          'POST',
          '/v1/reports',
          { 'content-type': 'application/json', 'content-length': report.length },
          report,
        ),
      ).toMatchObject({ status: 400, connection: 'keep-alive' });
    } finally {
      agent.destroy();
    }
  }, 30_000);

  it('POST /v1/reports/{id}/photos › a staging file lost before the commit answers 503 STORAGE_UNAVAILABLE, not 500', async () => {
    const form = multipart(await jpeg(7));
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        `${base}/v1/reports/${reportId}/photos`,
        {
          method: 'POST',
          agent: false,
          headers: { ...adminHeaders, 'content-type': form.contentType, 'transfer-encoding': 'chunked' },
        },
        (response) => {
          let body = '';
          response
            .setEncoding('utf8')
            .on('data', (chunk: string) => (body += chunk))
            .on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      request.on('error', reject);
      request.write(form.body.subarray(0, form.body.length - form.epilogue.length));
      // The sweeper (or an operator) takes the staged file while the upload is still open.
      void poll(
        async () => ((await staged()).length === 1 ? (await staged())[0] : undefined),
        5_000,
        'the upload to be staged',
      ).then(async (name) => {
        await rm(join(dataDir, 'blobs', '.staging', name));
        request.end(form.epilogue);
      }, reject);
    });
    const { status, body } = await within(answer, 15_000, 'the answer');
    expect(status, body).toBe(503);
    expect(JSON.parse(body)).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(JSON.parse(body).detail).not.toMatch(/ENOENT/);
  }, 30_000);

  it("SIGTERM › exits at once (not after SHUTDOWN_GRACE_MS) while a refused upload's client is still sending its body", async () => {
    const form = multipart(Buffer.alloc(0));
    const exchange = raw(
      requestHead(`/v1/reports/${reportId}/photos`, { 'content-type': form.contentType, 'content-length': 50_000_000 }),
      Buffer.alloc(16 * 1024, 0x44),
    );
    expect((await within(exchange.head, 10_000, 'the 401')).status).toBe(401);
    const trickle = setInterval(() => exchange.socket.writable && exchange.socket.write(Buffer.alloc(512, 0x45)), 100);
    try {
      const started = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.waitForExit(SHUTDOWN_GRACE_MS - 5_000, 'the server to exit after SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(server.logs.some((line) => /killed by timeout/.test(line.msg ?? ''))).toBe(false);
    } finally {
      clearInterval(trickle);
    }
  }, 60_000);
});
