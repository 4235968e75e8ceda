// Graceful shutdown of the built server: a request whose body is still arriving when SIGTERM comes is
// finished and answered; new requests are turned away; the process then exits 0.
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { registrySample } from '../helpers/factories.js';
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
const lines = sample.trimEnd().split('\n');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase | undefined;
let server: ServerProcess | undefined;
const openRequests = new Set<ClientRequest>();

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
}, 180_000);

afterAll(async () => {
  for (const request of openRequests) request.destroy();
  await killAllServers();
  await db?.drop();
}, 60_000);

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function collect(response: IncomingMessage): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (body += chunk));
    response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    response.on('error', reject);
  });
}

/** A GET on a fresh connection (no keep-alive pool), settling with the answer or the socket error. */
function freshGet(url: string): Promise<Answer | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const request = httpRequest(url, { agent: false, timeout: 5_000 }, (response) =>
      collect(response).then(resolve, resolve),
    );
    request.on('timeout', () => request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    request.on('error', (error) => resolve(error as NodeJS.ErrnoException));
    request.end();
  });
}

describe('graceful shutdown', () => {
  it('finishes a request in flight at SIGTERM, refuses new ones, and exits 0', async () => {
    server = startServer({ DATABASE_URL: db!.url, DATA_DIR: '/nonexistent-testigo-data', SHUTDOWN_GRACE_MS: '10000' });
    const base = await server.listening(60_000);
    await waitForOk(`${base}/readyz`, 30_000);

    // A chunked CSV upload: the header and three rows now, the rest after SIGTERM.
    const upload = httpRequest(`${base}/v1/registry/import`, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'text/csv',
        'transfer-encoding': 'chunked',
        'x-request-id': 'in-flight-import',
        ...adminHeaders,
      },
    });
    openRequests.add(upload);
    const answered = new Promise<Answer>((resolve, reject) => {
      upload.on('response', (response) => collect(response).then(resolve, reject));
      upload.on('error', reject);
    });
    answered.catch(() => undefined); // observed below; never an unhandled rejection if the test fails earlier
    upload.write(`${lines.slice(0, 4).join('\n')}\n`);
    // The server has the request (and is streaming its body into the import) before the signal.
    await server.waitForLog(
      (line) => line.requestId === 'in-flight-import' && line.msg === 'incoming request',
      10_000,
      'the import request to arrive',
    );

    server.child.kill('SIGTERM');
    await server.waitForLog((line) => line.msg === 'shutting down', 5_000, 'the shutdown to begin');

    // While the upload is open, a new request is not served. Right at the signal it may be refused, answered
    // 503 SHUTTING_DOWN (accepted before the listener closed), or reset: a connection still in the kernel's
    // accept queue, or accepted but not yet read, when the listener and idle sockets are closed.
    const late = await freshGet(`${base}/v1/regions`);
    if (late instanceof Error) {
      expect(['ECONNREFUSED', 'ECONNRESET'], String(late)).toContain(late.code);
    } else {
      expect(late.status, late.body).toBe(503);
      expect(late.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(late.body)).toMatchObject({ code: 'SHUTTING_DOWN' });
    }

    // Soon the listener is closed: a new connection is refused outright, while the upload is still open.
    let later = await freshGet(`${base}/healthz`);
    for (
      const deadline = Date.now() + 10_000;
      !(later instanceof Error && later.code === 'ECONNREFUSED') && Date.now() < deadline;
    ) {
      await sleep(50);
      later = await freshGet(`${base}/healthz`);
    }
    expect(
      later instanceof Error ? later.code : `HTTP ${later.status}`,
      String(later instanceof Error ? later : later.body),
    ).toBe('ECONNREFUSED');
    expect(server.hasExited(), 'the server waits for the request in flight').toBe(false);
    upload.write(`${lines.slice(4).join('\n')}\n`);
    upload.end();

    const answer = await within(answered, 15_000, 'the in-flight import to be answered');
    openRequests.delete(upload);
    expect(answer.status, answer.body).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({
      rows: 8,
      regions: { created: 9 },
      centres: { created: 5 },
      tables: { created: 8 },
    });

    // No second signal (that would force exit 1): the first one's shutdown ends the process.
    const exit = await server.waitForExit(15_000);
    expect(exit, server.stderr()).toEqual({ code: 0, signal: null });
    expect(server.logs.some((line) => /killed by timeout/.test(line.msg ?? ''))).toBe(false);

    // Everything the answer promised is in the database.
    const [{ tables, voters }] = (await db!.query<{ tables: string; voters: string }>(
      'SELECT count(*) AS tables, sum(registered_voters) AS voters FROM polling_tables',
    )) as [{ tables: string; voters: string }];
    expect(Number(tables)).toBe(8);
    expect(Number(voters)).toBe(6337);
    const [{ centres }] = (await db!.query<{ centres: string }>('SELECT count(*) AS centres FROM centres')) as [
      { centres: string },
    ];
    expect(Number(centres)).toBe(5);
  }, 90_000);
});
