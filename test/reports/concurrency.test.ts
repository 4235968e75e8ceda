// Reports under concurrency, through the built server (dist/server.js) over 50 keep-alive connections:
// one report sent 1,000 times at once is stored once and answered identically every time; the same id with
// other content sent alongside it stores exactly one of the two and answers the other 409 naming the field;
// two reports of one table with different numbers, sent at the same instant, both end up flagged `conflict`.
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
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
} from '../helpers/server-process.js';

const CONNECTIONS = 50;
const sample = registrySample;
const SAMPLE_CENTRE = '010101001'; // tables 1 (760 voters) and 2 (737 voters) in the sample
const LOAD_CENTRE = '010101900'; // added by this test: 40 tables of 500 voters, for the conflict pairs
const loadRegistry = [
  sample.trimEnd().split('\n')[0],
  ...Array.from(
    { length: 40 },
    (_, index) =>
      `01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,${LOAD_CENTRE},CENTRO DE CARGA,${index + 1},500,,,`,
  ),
].join('\n');

let db: TestDatabase | undefined;
let server: ServerProcess | undefined;
let base = '';
const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS, maxFreeSockets: CONNECTIONS });
const sockets = new Set<Socket>();
let observer: { id: string; headers: Record<string, string> };
let secondObserver: { id: string; headers: Record<string, string> };

interface Answer {
  status: number;
  body: string;
}

/** One request on the shared 50-socket agent (requests beyond 50 queue for a free socket). */
function send(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        timeout: 60_000,
        headers: {
          ...headers,
          ...(payload === undefined
            ? {}
            : {
                'content-type': typeof body === 'string' ? 'text/csv' : 'application/json',
                'content-length': Buffer.byteLength(payload),
              }),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('socket', (socket) => sockets.add(socket));
    request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on('error', reject);
    request.end(payload);
  });
}

async function ok<T = Record<string, unknown>>(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: unknown,
  status: number,
): Promise<T> {
  const answer = await send(method, path, headers, body);
  expect(answer.status, `${method} ${path}: ${answer.body}`).toBe(status);
  return JSON.parse(answer.body) as T;
}

/** A deterministic uuid (v4 layout) from a label, so that a failing run names the same ids again. */
function uuidFor(label: string): string {
  const hex = createHash('sha256').update(label).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function resultsReport(
  id: string,
  centreCode: string,
  table: number,
  registeredVoters: number,
  votes: Record<string, number>,
  extra: { nullVotes?: number; citizenAudit?: boolean } = {},
) {
  const validVotes = Object.values(votes).reduce((total, count) => total + count, 0);
  return {
    id,
    kind: 'results',
    centreCode,
    table,
    observedAt: '2024-07-28T22:00:00Z',
    answers: {
      registeredVoters,
      validVotes,
      nullVotes: extra.nullVotes ?? 3,
      votes,
      citizenAudit: extra.citizenAudit ?? false,
    },
  };
}

const rowCounts = async (id: string) => {
  const [row] = await db!.query<{ reports: number; revisions: number; accepted: number }>(
    `SELECT (SELECT count(*)::int FROM reports WHERE id = $1::uuid) AS reports,
            (SELECT count(*)::int FROM report_revisions WHERE report_id = $1::uuid) AS revisions,
            (SELECT count(*)::int FROM audit_entries WHERE action = 'report.accepted' AND entity_id = $2) AS accepted`,
    [id, id],
  );
  return row!;
};

const statusCounts = (answers: Answer[]) =>
  answers.reduce<Record<number, number>>(
    (counts, answer) => ({ ...counts, [answer.status]: (counts[answer.status] ?? 0) + 1 }),
    {},
  );

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  server = startServer({
    DATABASE_URL: db.url,
    DATA_DIR: '/nonexistent-testigo-data',
    // One observer sends well over 1,200 requests a minute here: the per-token rate limit is not under test.
    RATE_LIMIT_PER_TOKEN: '0',
  });
  base = await server.listening(60_000);
  await waitForOk(`${base}/readyz`, 30_000);

  await ok('POST', '/v1/registry/import', adminHeaders, sample, 200);
  await ok('POST', '/v1/registry/import', adminHeaders, loadRegistry, 200);
  await ok(
    'PUT',
    '/v1/election',
    adminHeaders,
    {
      name: 'Concurrency test election',
      date: '2024-07-28',
      timeZone: 'America/Caracas',
      candidates: [
        { code: 'EG', name: 'Candidate EG' },
        { code: 'NM', name: 'Candidate NM' },
        { code: 'LM', name: 'Candidate LM' },
      ],
    },
    200,
  );
  const makeObserver = async (name: string) => {
    const user = await ok<{ id: string }>(
      'POST',
      '/v1/users',
      adminHeaders,
      { name, role: 'observer', centres: [SAMPLE_CENTRE, LOAD_CENTRE] },
      201,
    );
    const token = await ok<{ token: string }>(
      'POST',
      `/v1/users/${user.id}/tokens`,
      adminHeaders,
      { name: 'phone' },
      201,
    );
    return { id: user.id, headers: { authorization: `Bearer ${token.token}` } };
  };
  observer = await makeObserver('Observer One');
  secondObserver = await makeObserver('Observer Two');
}, 180_000);

afterAll(async () => {
  agent.destroy();
  await server?.stop('SIGTERM', 15_000).catch(() => undefined);
  await killAllServers();
  await db?.drop();
}, 60_000);

describe('the same report sent 1,000 times at once over 50 connections', () => {
  const variants = [
    {
      name: 'a results report (serialised per table by the advisory lock)',
      report: resultsReport(uuidFor('same-results'), SAMPLE_CENTRE, 1, 760, { EG: 400, NM: 200, LM: 10 }),
    },
    {
      name: 'an opening report (only the primary key decides)',
      report: {
        id: uuidFor('same-opening'),
        kind: 'opening',
        centreCode: SAMPLE_CENTRE,
        table: 1,
        observedAt: '2024-07-28T10:05:00Z',
        answers: {
          openedAt: '06:04',
          tableStaffComplete: true,
          zeroReportPrinted: true,
          witnessesPresent: ['EG', 'NM'],
        },
        notes: 'Opened on time',
        location: { lat: 10.5061, lon: -66.9146, accuracy: 12 },
      },
    },
  ];

  it.each(variants)(
    '$name: stored once, one 201 and 999 identical 200s, no 5xx',
    async ({ report }) => {
      sockets.clear();
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 1000 }, () => send('POST', '/v1/reports', observer.headers, report)),
      );
      const elapsed = performance.now() - started;
      console.log(
        `1,000 concurrent POST /v1/reports (${report.kind}) over ${sockets.size} sockets: ${elapsed.toFixed(0)} ms, ${(1000 / (elapsed / 1000)).toFixed(0)} req/s`,
      );

      expect(sockets.size).toBeLessThanOrEqual(CONNECTIONS);
      expect(sockets.size).toBeGreaterThan(1);
      const counts = statusCounts(answers);
      expect(counts, answers.find((answer) => answer.status >= 300)?.body).toEqual({ 201: 1, 200: 999 });
      const bodies = new Set(answers.map((answer) => answer.body));
      expect(bodies.size, [...bodies].slice(0, 3).join('\n')).toBe(1);
      const stored = JSON.parse(answers[0]!.body) as {
        id: string;
        kind: string;
        revision: number;
        observerId: string;
        answers: unknown;
      };
      expect(stored).toMatchObject({
        id: report.id,
        kind: report.kind,
        revision: 1,
        observerId: observer.id,
        answers: report.answers,
      });

      expect(await rowCounts(report.id)).toEqual({ reports: 1, revisions: 1, accepted: 1 });
      // GET answers the same report (plus its reviews) as every POST did.
      const fetched = await ok<Record<string, unknown>>(
        'GET',
        `/v1/reports/${report.id}`,
        observer.headers,
        undefined,
        200,
      );
      // (The POST answers also carry the log's receipt, the same in all of them.)
      expect({ ...fetched, reviews: undefined, photos: undefined }).toEqual({
        ...stored,
        reviews: undefined,
        receipt: undefined,
      });
    },
    120_000,
  );
});

describe('the same id with other content, sent interleaved with the original', () => {
  const original = resultsReport(
    uuidFor('contested'),
    SAMPLE_CENTRE,
    2,
    737,
    { EG: 300, NM: 250, LM: 20 },
    { nullVotes: 4 },
  );
  const other = { ...original, answers: { ...original.answers, nullVotes: 9 } };
  const originalOtherTable = resultsReport(uuidFor('contested-table'), LOAD_CENTRE, 39, 500, {
    EG: 100,
    NM: 100,
    LM: 100,
  });
  const otherTable = { ...originalOtherTable, table: 40 };

  it.each([
    {
      name: 'one answer differs (same table: serialised by its lock)',
      first: original,
      second: other,
      field: 'answers.nullVotes',
    },
    {
      name: 'the table differs (two locks: only the primary key decides)',
      first: originalOtherTable,
      second: otherTable,
      field: 'table',
    },
  ])(
    '$name: one of the two is stored; the other is answered 409 REPORT_CONFLICT naming $field',
    async ({ first, second, field }) => {
      const bodies = Array.from({ length: 200 }, (_, index) => (index % 2 === 0 ? first : second));
      const answers = await Promise.all(bodies.map((body) => send('POST', '/v1/reports', observer.headers, body)));

      expect(answers.filter((answer) => answer.status >= 500).map((answer) => answer.body)).toEqual([]);
      expect(await rowCounts(first.id)).toEqual({ reports: 1, revisions: 1, accepted: 1 });
      const [row] = await db!.query<{ table_number: number; answers: Record<string, unknown> }>(
        'SELECT table_number, answers FROM reports WHERE id = $1::uuid',
        [first.id],
      );
      const winner =
        row!.table_number === first.table && isDeepStrictEqual(row!.answers, first.answers) ? first : second;
      expect({ table: row!.table_number, answers: row!.answers }).toEqual({
        table: winner.table,
        answers: winner.answers,
      });

      const stored = await ok<Record<string, unknown>>(
        'GET',
        `/v1/reports/${first.id}`,
        observer.headers,
        undefined,
        200,
      );
      const storedBody = JSON.stringify({ ...stored, reviews: undefined, photos: undefined });
      let created = 0;
      answers.forEach((answer, index) => {
        const sent = bodies[index]!;
        if (sent === winner) {
          expect([200, 201], answer.body).toContain(answer.status);
          if (answer.status === 201) created += 1;
          expect(JSON.stringify({ ...JSON.parse(answer.body), receipt: undefined })).toBe(storedBody);
        } else {
          expect(answer.status, answer.body).toBe(409);
          expect(JSON.parse(answer.body)).toMatchObject({ code: 'REPORT_CONFLICT', status: 409, fields: [field] });
        }
      });
      expect(created).toBe(1);
      expect(statusCounts(answers)).toEqual({ 201: 1, 200: 99, 409: 100 });
    },
    120_000,
  );
});

describe('two reports of one table from two observers at the same instant', () => {
  it('flags both `conflict` when their numbers differ, and neither when they agree', async () => {
    const pairs: {
      table: number;
      kind: 'differ' | 'same' | 'audit-only';
      a: ReturnType<typeof resultsReport>;
      b: ReturnType<typeof resultsReport>;
    }[] = [];
    for (let table = 1; table <= 30; table += 1) {
      const kind = table <= 20 ? 'differ' : table <= 25 ? 'same' : 'audit-only';
      const votes = { EG: 200 + table, NM: 100, LM: 7 };
      pairs.push({
        table,
        kind,
        a: resultsReport(uuidFor(`pair-a-${table}`), LOAD_CENTRE, table, 500, votes),
        b: resultsReport(
          uuidFor(`pair-b-${table}`),
          LOAD_CENTRE,
          table,
          500,
          kind === 'differ' ? { ...votes, NM: 101 } : votes,
          { citizenAudit: kind === 'audit-only' },
        ),
      });
    }
    const answers = await Promise.all(
      pairs.flatMap((pair) => [
        send('POST', '/v1/reports', observer.headers, pair.a),
        send('POST', '/v1/reports', secondObserver.headers, pair.b),
      ]),
    );
    expect(statusCounts(answers), answers.find((answer) => answer.status !== 201)?.body).toEqual({ 201: 60 });

    const rows = await db!.query<{ id: string; table_number: number; flags: string[] }>(
      'SELECT id, table_number, flags FROM reports WHERE centre_code = $1 AND table_number BETWEEN 1 AND 30 ORDER BY table_number, id',
      [LOAD_CENTRE],
    );
    expect(rows).toHaveLength(60);
    const flagsOf = new Map(rows.map((row) => [row.id, row.flags]));
    for (const pair of pairs) {
      const expected = pair.kind === 'differ' ? ['conflict'] : [];
      expect({ table: pair.table, a: flagsOf.get(pair.a.id), b: flagsOf.get(pair.b.id) }).toEqual({
        table: pair.table,
        a: expected,
        b: expected,
      });
    }
    const flagged = await ok<{ items: { id: string }[] }>(
      'GET',
      `/v1/reports?flag=conflict&centre=${LOAD_CENTRE}&limit=500`,
      adminHeaders,
      undefined,
      200,
    );
    expect(flagged.items.map((item) => item.id).sort()).toEqual(
      pairs
        .filter((pair) => pair.kind === 'differ')
        .flatMap((pair) => [pair.a.id, pair.b.id])
        .sort(),
    );
  }, 120_000);

  it('left nothing worse than a warning in the server log', () => {
    const errors = server!.logs.filter((line) => typeof line.level === 'number' && line.level >= 50);
    expect(errors).toEqual([]);
    expect(server!.stderr()).toBe('');
  });
});
