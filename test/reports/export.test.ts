// Exports and recounts over a real socket: a cap on how many run at once (503 SERVICE_OVERLOADED with
// Retry-After beyond it, the place given back when an export ends or its client goes away), backpressure
// (a client that stops reading stops the export's page reads), and the marks of a complete export.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupTestApp, type TestApp } from '../helpers/app.js';

const REPORTS = 12_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
let t: TestApp;
let base = '';
let readQueries = 0;

async function poll<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Opens GET `path` and resolves with the response once its headers are in; the body is left unread (paused). */
function open(path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { headers: t.admin.headers, agent: false });
    request.on('response', (response) => {
      response.pause();
      resolve(response);
    });
    request.on('error', reject);
    request.end();
  });
}

/** Reads a response to its end: the body as text, and its trailers. */
function readAll(response: IncomingMessage): Promise<{ body: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve({ body: Buffer.concat(chunks).toString('utf8'), trailers: response.trailers }));
    response.on('error', reject);
    response.resume();
  });
}

beforeAll(async () => {
  t = await setupTestApp({ env: { EXPORT_MAX_CONCURRENT: '1', RECOUNT_MAX_CONCURRENT: '1' } });
  await t.app.inject({
    method: 'POST',
    url: '/v1/registry/import',
    headers: { ...t.admin.headers, 'content-type': 'text/csv' },
    payload:
      'state_code,state_name,municipality_code,municipality_name,parish_code,parish_name,centre_code,centre_name,table_number,registered_voters\n01,D,0101,M,010101,P,010101001,C,1,500\n',
  });
  await t.db.query(
    `INSERT INTO reports (id, kind, centre_code, parish_code, municipality_code, state_code, observer_id, observed_at, received_at, form_version, answers,
                          notes, submission_hash, content_hash, revision, review_state, flags, updated_at)
     SELECT md5('export-' || g)::uuid, 'voting', '010101001', '010101', '0101', '01', $1::uuid, now(), now() - g * interval '1 second', 1,
            '{"queueLength":"short","waitingMinutes":5,"assistedVotingProblems":false,"identificationProblems":false,"securityForces":"appropriate","propagandaNearby":false}',
            repeat('x', 400), md5(g::text) || md5(g::text), md5(g::text) || md5(g::text), 1, 'unreviewed', '{}', now()
     FROM generate_series(1, $2::int) g`,
    [t.admin.id, REPORTS],
  );
  // Count the statements exports send to the read pool (the real pool, only observed).
  const pool = t.app.db.readPool;
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    readQueries += 1;
    return query(...args);
  };
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await t?.app.close();
});

describe('GET /v1/reports/export', () => {
  it('a client that stops reading stops the export: the next page is read only when the client takes the last', async () => {
    const before = readQueries;
    const response = await open('/v1/reports/export?format=ndjson');
    expect(response.statusCode).toBe(200);
    // Let the server fill the socket's buffers, until it stops asking for pages.
    let last = -1;
    await poll(
      async () => {
        const now = readQueries;
        const settled = now === last;
        last = now;
        await sleep(300);
        return settled ? true : undefined;
      },
      20_000,
      'the export to stop reading pages',
    );
    const whilePaused = readQueries - before;
    const pages = Math.ceil(REPORTS / 500);
    console.log(`export backpressure: ${whilePaused} of ${pages} pages read while the client did not read`);
    expect(whilePaused).toBeLessThan(pages / 2);
    const { body } = await readAll(response);
    const lines = body.trimEnd().split('\n');
    expect(JSON.parse(lines.at(-1)!)).toEqual({ complete: true, rows: REPORTS });
    expect(lines).toHaveLength(REPORTS + 1);
    expect(readQueries - before).toBeGreaterThanOrEqual(pages);
  }, 60_000);

  it('503 SERVICE_OVERLOADED with Retry-After beyond EXPORT_MAX_CONCURRENT; the place is given back when a client goes away', async () => {
    const first = await open('/v1/reports/export?format=csv');
    expect(first.statusCode).toBe(200);
    const refused = await t.app.inject({ url: '/v1/reports/export?format=ndjson', headers: t.admin.headers });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json().code).toBe('SERVICE_OVERLOADED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Writes are not capped meanwhile.
    const report = {
      id: crypto.randomUUID(),
      kind: 'arrival',
      centreCode: '010101001',
      observedAt: new Date().toISOString(),
      answers: { accessGranted: true },
    };
    expect(
      (await t.app.inject({ method: 'POST', url: '/v1/reports', headers: t.admin.headers, payload: report }))
        .statusCode,
    ).toBe(201);
    first.destroy();
    const next = await poll(
      async () => {
        const answer = await t.app.inject({
          url: '/v1/reports/export?format=csv&kind=arrival',
          headers: t.admin.headers,
        });
        return answer.statusCode === 200 ? answer : undefined;
      },
      10_000,
      'the export place to be given back',
    );
    // A complete CSV export says how many rows it holds in the trailer it announced.
    expect(next.headers.trailer).toBe('x-export-rows');
    expect(next.trailers).toEqual({ 'x-export-rows': '1' });
    expect(next.body.trimEnd().split('\r\n')).toHaveLength(2);
  }, 60_000);

  it('a complete CSV export over HTTP ends with the trailer X-Export-Rows: N', async () => {
    const response = await open('/v1/reports/export?format=csv');
    expect(response.headers.trailer).toBe('x-export-rows');
    const { body, trailers } = await readAll(response);
    const rows = body.trimEnd().split('\r\n').length - 1;
    expect(rows).toBe(REPORTS + 1);
    expect(trailers['x-export-rows']).toBe(String(rows));
  }, 60_000);

  it('an export cut by a database failure midway lacks the final line (and the client sees the body end early)', async () => {
    const response = await open('/v1/reports/export?format=ndjson');
    expect(response.statusCode).toBe(200);
    const locker = new pg.Client({ connectionString: t.db.url });
    await locker.connect();
    try {
      // The next page will wait for this lock; its backend is then terminated, as a crashing database would.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE reports IN ACCESS EXCLUSIVE MODE');
      const chunks: Buffer[] = [];
      const ended = new Promise<void>((resolve) => {
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('close', () => resolve());
        response.on('error', () => undefined);
      });
      response.resume();
      const [waiting] = await poll(
        async () => {
          const rows = await t.db.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '%-reads' AND wait_event_type = 'Lock'",
          );
          return rows.length > 0 ? rows : undefined;
        },
        20_000,
        "the export's next page to wait for the lock",
      );
      await t.db.query('SELECT pg_terminate_backend($1)', [waiting!.pid]);
      await ended;
      const lines = Buffer.concat(chunks)
        .toString('utf8')
        .split('\n')
        .filter((line) => line.length > 0);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.length).toBeLessThan(REPORTS);
      expect(response.complete).toBe(false);
      expect(lines.some((line) => line.startsWith('{"complete":'))).toBe(false);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    // The place of the cut export was given back.
    await poll(
      async () =>
        (await t.app.inject({ url: '/v1/reports/export?format=csv&kind=arrival', headers: t.admin.headers }))
          .statusCode === 200
          ? true
          : undefined,
      10_000,
      'the export place',
    );
  }, 60_000);
});

describe('GET /v1/summaries with since/until (a recount)', () => {
  it('503 SERVICE_OVERLOADED with Retry-After beyond RECOUNT_MAX_CONCURRENT, and served again once the recount ends', async () => {
    // Hold the first recount inside PostgreSQL: a lock on reports makes it wait.
    const locker = new pg.Client({ connectionString: t.db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE reports IN ACCESS EXCLUSIVE MODE');
      const held = t.app.inject({ url: '/v1/summaries/national?since=2000-01-01T00:00:00Z', headers: t.admin.headers });
      await poll(
        async () => {
          const [row] = await t.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
          );
          return row!.n > 0 ? true : undefined;
        },
        10_000,
        'the recount to wait for the lock',
      );
      const refused = await t.app.inject({
        url: '/v1/summaries?level=state&since=2000-01-01T00:00:00Z',
        headers: t.admin.headers,
      });
      expect(refused.statusCode).toBe(503);
      expect(refused.json().code).toBe('SERVICE_OVERLOADED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // The live summary is no recount: it is served meanwhile.
      expect((await t.app.inject({ url: '/v1/summaries?level=state', headers: t.admin.headers })).statusCode).toBe(200);
      await locker.query('COMMIT');
      expect((await held).statusCode).toBe(200);
      expect(
        (await t.app.inject({ url: '/v1/summaries?level=state&since=2000-01-01T00:00:00Z', headers: t.admin.headers }))
          .statusCode,
      ).toBe(200);
    } finally {
      await locker.end();
    }
  }, 60_000);
});
