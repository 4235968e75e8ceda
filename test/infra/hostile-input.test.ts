// Hostile input (NUL, lone surrogates, dates PostgreSQL cannot store, foreign charsets) is a 4xx naming the field,
// for every body, query and cursor, through the real app; nothing of it is stored.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/infra/http/pagination.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { registrySample, seedRegistry, setElection } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const sample = registrySample;
const asAdmin = as(app, admin);
let observer: TestActor;

const election = {
  name: 'Presidential 2024',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  candidates: [
    { code: 'EG', name: 'Edmundo González' },
    { code: 'NM', name: 'Nicolás Maduro' },
  ],
};
const incident = (overrides: Record<string, unknown> = {}, answers: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  kind: 'incident',
  centreCode: '010101001',
  observedAt: '2024-07-28T10:00:00Z',
  answers: { category: 'vote_buying', severity: 'low', description: 'Someone offered money', ...answers },
  ...overrides,
});
/** A JSON text as a client would send it: `\u0000` and `\ud800` escapes survive as written. */
const raw = (value: unknown) => JSON.stringify(value).replaceAll('NUL', '\\u0000').replaceAll('LONE', '\\ud800');
const post = (url: string, body: string, actor: TestActor = observer, method: 'POST' | 'PATCH' | 'PUT' = 'POST') =>
  as(app, actor)({ method, url, headers: { 'content-type': 'application/json' }, body });

function expectRefused(response: { statusCode: number; json(): unknown; body: string }, path: string) {
  expect(response.statusCode, response.body).toBe(400);
  const problem = response.json() as { code: string; errors: { path?: string }[] };
  expect(problem.code).toBe('VALIDATION_FAILED');
  expect(problem.errors.map((error) => error.path)).toContain(path);
}

beforeAll(async () => {
  await seedRegistry(app, admin);
  await setElection(app, admin, election);
  observer = await createActor(app, 'observer');
  expect(
    (await asAdmin({ method: 'PUT', url: `/v1/users/${observer.id}/assignments`, payload: { centres: ['010101001'] } }))
      .statusCode,
  ).toBe(200);
});

describe('hostile strings', () => {
  it.each([
    ['NUL in notes', { notes: 'bad NUL note' }, {}, 'notes'],
    ['a lone surrogate in notes', { notes: 'bad LONE note' }, {}, 'notes'],
    ['NUL in the incident description', {}, { description: 'money NUL offered' }, 'answers.description'],
    ['a lone surrogate in the incident description', {}, { description: 'LONE' }, 'answers.description'],
    ['NUL in an answer key', {}, { keyNUL: 1 }, 'answers.keyNUL'.replace('NUL', '\u0000')],
  ])('POST /v1/reports › 400 VALIDATION_FAILED for %s', async (_name, overrides, answers, path) => {
    expectRefused(await post('/v1/reports', raw(incident(overrides, answers))), path);
  });

  it('POST /v1/reports › a paired surrogate (an emoji) is fine', async () => {
    const response = await post('/v1/reports', JSON.stringify(incident({ notes: 'ok 🗳️ \ud83d\uddf3' })));
    expect(response.statusCode, response.body).toBe(201);
  });

  it('POST /v1/reports/batch › the bad item is invalid with its path, the good one is stored', async () => {
    const good = incident();
    const response = await post(
      '/v1/reports/batch',
      raw({ reports: [incident({ notes: 'NUL' }), good, incident({}, { description: 'LONE' })] }),
    );
    expect(response.statusCode, response.body).toBe(200);
    const { results } = response.json() as {
      results: { status: string; httpStatus: number; problem?: { code: string; errors: { path: string }[] } }[];
    };
    expect(results.map((result) => result.status)).toEqual(['invalid', 'created', 'invalid']);
    expect(results[0]!.problem).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'notes' }] });
    expect(results[2]!.problem).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'answers.description' }] });
    const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM reports WHERE id = $1', [good.id]);
    expect(row!.n).toBe(1);
  });

  it('POST /v1/users › 400 VALIDATION_FAILED for NUL in the name', async () => {
    expectRefused(await post('/v1/users', raw({ name: 'Ana NUL', role: 'observer' }), admin), 'name');
  });

  it('PUT /v1/election › 400 VALIDATION_FAILED for a lone surrogate in a candidate name', async () => {
    const body = raw({
      ...election,
      candidates: [
        { code: 'EG', name: 'LONE' },
        { code: 'NM', name: 'N' },
      ],
    });
    expectRefused(await post('/v1/election', body, admin, 'PUT'), 'candidates.0.name');
  });

  it.each([
    ['/v1/centres?q=%00', 'q'],
    ['/v1/users?q=%00', 'q'],
    ['/v1/audit?entity=%00', 'entity'],
    ['/v1/reports?centre=01%00', 'centre'],
  ])('GET %s › 400 VALIDATION_FAILED naming the parameter', async (url, path) => {
    const response = await asAdmin(url);
    expectRefused(response, path);
    expect((response.json() as { errors: { in: string }[] }).errors[0]!.in).toBe('querystring');
  });

  it('POST /v1/registry/import › 422 REGISTRY_CSV_INVALID naming the line and column of a NUL, nothing written', async () => {
    const [header, first] = sample.split('\n');
    const body = `${header}\n${first!.replace('ESCUELA MADARIAGA', 'ESCUELA \u0000 NUEVA').replace('010101001', '010101077')}\n`;
    const response = await asAdmin({
      method: 'POST',
      url: '/v1/registry/import',
      headers: { 'content-type': 'text/csv' },
      body,
    });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ code: 'REGISTRY_CSV_INVALID', errors: [{ line: 2, path: 'centre_name' }] });
    expect(await db.query("SELECT code FROM centres WHERE code = '010101077'")).toEqual([]);
  });

  it('POST /v1/users/import › 422 USERS_CSV_INVALID for a NUL in a name', async () => {
    const body = 'external_id,name,phone,email,centres\nX-1,Ana \u0000,,,010101001\n';
    const response = await asAdmin({
      method: 'POST',
      url: '/v1/users/import',
      headers: { 'content-type': 'text/csv' },
      body,
    });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ code: 'USERS_CSV_INVALID' });
    expect(response.json().errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ line: 2, path: 'name' })]),
    );
  });

  it('GET /v1/centres › 400 for a cursor that decodes to NUL', async () => {
    expectRefused(await asAdmin(`/v1/centres?cursor=${encodeCursor({ after: '\u0000' })}`), 'cursor');
  });
});

describe('dates PostgreSQL cannot store', () => {
  it.each(['0000-01-01T00:00:00Z', '1999-12-31T23:59:59Z', '2100-01-01T00:00:01Z', '9999-12-31T23:59:59Z'])(
    'POST /v1/reports › 400 VALIDATION_FAILED for observedAt %s',
    async (observedAt) => {
      expectRefused(await post('/v1/reports', JSON.stringify(incident({ observedAt }))), 'observedAt');
    },
  );

  it.each([
    ['/v1/reports?since=0000-01-01T00:00:00Z', 'since'],
    ['/v1/reports?until=0000-01-01T00:00:00Z', 'until'],
    ['/v1/audit?since=0000-01-01T00:00:00Z', 'since'],
    ['/v1/summaries/national?since=0000-01-01T00:00:00Z', 'since'],
    [`/v1/audit?cursor=${encodeCursor({ before: '99999999999999999999999' })}`, 'cursor'],
    [`/v1/reports?cursor=${encodeCursor({ at: '0000-01-01T00:00:00.000Z', id: randomUUID() })}`, 'cursor'],
    [`/v1/users?cursor=${encodeCursor({ at: '0000-01-01T00:00:00.000Z', id: randomUUID() })}`, 'cursor'],
  ])('GET %s › 400 VALIDATION_FAILED naming the parameter', async (url, path) => {
    expectRefused(await asAdmin(url), path);
  });

  it('PUT /v1/election › 400 VALIDATION_FAILED for the year 0000', async () => {
    expectRefused(
      await post('/v1/election', JSON.stringify({ ...election, date: '0000-01-01' }), admin, 'PUT'),
      'date',
    );
  });

  it('GET /v1/reports › dates in range still work', async () => {
    expect((await asAdmin('/v1/reports?since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z')).statusCode).toBe(200);
  });
});

describe('JSON charset', () => {
  it.each([
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'application/json;charset="ISO-8859-1"',
  ])('POST /v1/reports › 415 UNSUPPORTED_MEDIA_TYPE for %s', async (contentType) => {
    const response = await as(
      app,
      observer,
    )({
      method: 'POST',
      url: '/v1/reports',
      headers: { 'content-type': contentType },
      body: JSON.stringify(incident()),
    });
    expect(response.statusCode, response.body).toBe(415);
    expect(response.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it.each(['application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8'])(
    'POST /v1/reports › %s is accepted',
    async (contentType) => {
      const response = await as(
        app,
        observer,
      )({
        method: 'POST',
        url: '/v1/reports',
        headers: { 'content-type': contentType },
        body: JSON.stringify(incident()),
      });
      expect(response.statusCode, response.body).toBe(201);
    },
  );
});
