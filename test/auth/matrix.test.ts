// The authorization matrix: every route × every role (and no token, or a token that is no good) × a target
// inside or outside the caller's scope. Each row names the route, the caller, the scope of the target, the
// status and either the problem code (errors) or the audit action a successful write must leave behind.
//
// Callers: admin (national); coordinator scoped to state 01; analyst (national); analyst13 (an analyst scoped
// to state 13); observer (scoped to 0101, assigned 010101001). The "other" observer is scoped to 13 and
// assigned 130101001: out of the coordinator's scope, and "another observer" for the observer.
//
// Scopes: self = the caller itself; in = a user (or region, centre) inside the caller's reach; out = one
// outside it; unknown = a random uuid; - = the route has no target.
import { randomBytes, randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProblemCode } from '../../src/infra/errors.js';
import { createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { registrySample, setElection } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
/** A second app whose per-IP limit is tiny, for the rate limit of callers without a valid token. */
const limited = await setupTestApp({ env: { RATE_LIMIT_PER_IP: '3', RATE_LIMIT_PER_TOKEN: '1000' } });
const sample = registrySample;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON bodies of 40 routes, read loosely in a table test
type Json = Record<string, any>;
type Caller = 'admin' | 'coordinator' | 'analyst' | 'analyst13' | 'observer';
type Scope = 'self' | 'in' | 'out' | 'unknown' | '-';
/** A problem code for errors; `audit:<action>` for a successful write; `ok` for a successful read. */
type Expectation = ProblemCode | `audit:${string}` | 'ok';
interface Party {
  id: string;
  tokenId: string;
}

interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  /** A never-ending answer (Server-Sent Events): read up to its first event, then the connection is closed. */
  stream?: boolean;
  payload?: object;
  csv?: string;
  /** A multipart body (photo uploads). */
  form?: { body: Buffer; contentType: string };
  /** The id in the URL of the target; a 404 for it must look exactly like a 404 for a random uuid. */
  hiddenId?: string;
  /** Checks the body of a 2xx answer. */
  verify?: (body: Json) => void | Promise<void>;
  /** Checks the problem of an error answer with this code. */
  verifyProblem?: Partial<Record<ProblemCode, (problem: Json) => void>>;
  /** Checks, after an error, that the target was left as it was. */
  unchanged?: () => Promise<void>;
}
/** Builds the request of a route for a caller (null: no token, or a bad one) and a scope. */
type Build = (who: Caller | null, scope: Scope) => Promise<Call>;

const world = {} as {
  coordinator: TestActor;
  analyst: TestActor;
  analyst13: TestActor;
  observer: TestActor;
  other: TestActor;
  deactivated: TestActor;
  expiredToken: string;
  revokedToken: string;
  /** Reports by the observer (centre 010101001, state 01) and by the other observer (130101001, state 13). */
  reportIn: string;
  reportOut: string;
  /** A photo on each of those reports. */
  photoIn: string;
  photoOut: string;
};
const election = {
  name: 'Matrix election',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  candidates: [
    { code: 'EG', name: 'EG' },
    { code: 'NM', name: 'NM' },
  ],
};
const votingAnswers = {
  queueLength: 'short',
  waitingMinutes: 5,
  assistedVotingProblems: false,
  identificationProblems: false,
  securityForces: 'absent',
  propagandaNearby: false,
};
const votingReport = (centreCode: string) => ({
  id: randomUUID(),
  kind: 'voting',
  centreCode,
  observedAt: '2024-07-28T10:00:00Z',
  answers: votingAnswers,
});
const actorOf = (caller: Caller): TestActor => (caller === 'admin' ? admin : world[caller]);

let sequence = 0;
const unique = () => `${process.pid}-${(sequence += 1)}`;
const codes = (items: Json[]) => items.map((item) => item.code as string);

/** A stream's answer up to its first event (all of it when it is a problem), as an inject response looks. */
async function sendStream(call: Call, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  const response = await app.inject({ method: call.method, url: call.url, headers, payloadAsStream: true });
  let text = '';
  for await (const chunk of response.stream()) {
    text += String(chunk);
    if (response.statusCode === 200 && /\ndata: .*\n\n/.test(text)) break;
  }
  // The client goes: the server forgets the stream (its limits count open ones).
  response.raw.res.destroy();
  return { ...response, body: text, json: () => JSON.parse(text) } as unknown as LightMyRequestResponse;
}

function send(call: Call, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  if (call.stream) return sendStream(call, headers);
  return app.inject({
    method: call.method,
    url: call.url,
    headers: {
      ...headers,
      ...(call.csv !== undefined
        ? { 'content-type': 'text/csv' }
        : call.form
          ? { 'content-type': call.form.contentType }
          : {}),
    },
    ...(call.csv !== undefined
      ? { payload: call.csv }
      : call.form
        ? { payload: call.form.body }
        : call.payload !== undefined
          ? { payload: call.payload }
          : {}),
  });
}

let photoSeed = 0;
/** A multipart body with a small, distinct JPEG. */
async function photoForm(): Promise<{ body: Buffer; contentType: string }> {
  photoSeed += 1;
  const image = await sharp({
    create: {
      width: 64,
      height: 48,
      channels: 3,
      background: { r: photoSeed % 255, g: (photoSeed * 13) % 255, b: 40 },
    },
  })
    .jpeg()
    .toBuffer();
  const boundary = `----matrix${photoSeed}`;
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
    image,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

const asAdmin = (call: Call) => send(call, admin.headers);

async function issueToken(userId: string, body: object = { name: 'spare' }): Promise<{ id: string; token: string }> {
  const response = await asAdmin({ method: 'POST', url: `/v1/users/${userId}/tokens`, payload: body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

const freshObserver = (scopeRegion: string) => createActor(app, 'observer', { scopeRegion });

/**
 * The user a row is about. `fresh` gives writes a new observer of their own, so that rows stay independent.
 * in (admins, coordinators): an observer inside 0101. out: the other observer (scope 13) — for the national
 * analyst, the observer in 0101 (an analyst sees nobody but itself).
 */
async function subject(who: Caller | null, scope: Scope, fresh: boolean): Promise<Party> {
  if (who === null || scope === '-') return world.observer;
  if (scope === 'unknown') return { id: randomUUID(), tokenId: randomUUID() };
  if (scope === 'self') return actorOf(who);
  if (scope === 'in') {
    if (who !== 'admin' && who !== 'coordinator')
      throw new Error(`The table is wrong: a ${who} reaches no user but itself (use self)`);
    return fresh ? freshObserver('0101') : world.observer;
  }
  if (who === 'admin') throw new Error('The table is wrong: an admin reaches every user (use unknown)');
  if (who === 'analyst') return fresh ? freshObserver('0101') : world.observer;
  return fresh ? freshObserver('13') : world.other;
}

/** Registry codes inside (index 0) and outside (index 1) each caller's region; national callers use index 0. */
const homes: Record<Caller, { region: [string, string]; centre: [string, string] }> = {
  admin: { region: ['01', '13'], centre: ['010101001', '130101001'] },
  analyst: { region: ['01', '13'], centre: ['010101001', '130101001'] },
  coordinator: { region: ['01', '13'], centre: ['010102001', '130101001'] },
  analyst13: { region: ['13', '01'], centre: ['130201001', '010101001'] },
  observer: { region: ['0101', '1301'], centre: ['010101001', '130201001'] },
};
const registryCode = (who: Caller | null, scope: Scope, kind: 'region' | 'centre') =>
  homes[who ?? 'admin'][kind][scope === 'out' ? 1 : 0];

const rejectsKey = (key: string) => ({
  VALIDATION_FAILED: (problem: Json) => {
    expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'body' })]));
    // The unknown field is named, not silently dropped.
    expect(problem.errors.map((error: Json) => error.message)).toContain(`Unrecognized key: "${key}"`);
  },
});

function createUser(body: () => Json, verify?: (user: Json, who: Caller | null) => void, key?: string): Build {
  return async (who) => {
    const payload = body();
    return {
      method: 'POST',
      url: '/v1/users',
      payload,
      verify: (user) => {
        expect(user).toMatchObject({ name: payload.name, role: payload.role, active: true });
        verify?.(user, who);
      },
      verifyProblem: key ? rejectsKey(key) : {},
    };
  };
}

function patchUser(body: () => Json, verify: (user: Json) => void, key?: string): Build {
  return async (who, scope) => {
    const target = await subject(who, scope, true);
    return {
      method: 'PATCH',
      url: `/v1/users/${target.id}`,
      payload: body(),
      hiddenId: target.id,
      verify: (user) => {
        expect(user.id).toBe(target.id);
        verify(user);
      },
      verifyProblem: key ? rejectsKey(key) : {},
    };
  };
}

function issueTokenTo(body: () => Json, key?: string): Build {
  return async (who, scope) => {
    const target = await subject(who, scope, true);
    return {
      method: 'POST',
      url: `/v1/users/${target.id}/tokens`,
      payload: body(),
      hiddenId: target.id,
      verify: (token) => {
        expect(token).toMatchObject({ userId: target.id, revokedAt: null });
        expect(token.token).toMatch(/^tg_/);
      },
      verifyProblem: key ? rejectsKey(key) : {},
    };
  };
}

function assign(centres: (scope: Scope) => string[], extra: Json = {}, key?: string): Build {
  return async (who, scope) => {
    const target = await subject(who, scope, true);
    const list = centres(scope);
    return {
      method: 'PUT',
      url: `/v1/users/${target.id}/assignments`,
      payload: { centres: list, ...extra },
      hiddenId: target.id,
      verify: (body) =>
        expect(body).toEqual({
          userId: target.id,
          assignments: list.map((code) => expect.objectContaining({ centreCode: code })),
        }),
      verifyProblem: {
        ...(key ? rejectsKey(key) : {}),
        ASSIGNMENT_INVALID: (problem) =>
          expect(problem.errors).toEqual(
            list.map((code) => expect.objectContaining({ in: 'body', path: 'centres', centre: code })),
          ),
      },
      unchanged: async () => {
        if (who === null || scope === 'unknown') return;
        const rows = await db.query('SELECT centre_code FROM assignments WHERE user_id = $1 ORDER BY centre_code', [
          target.id,
        ]);
        // Fresh observers have no centres; the caller itself (self rows) has its own.
        if (scope !== 'self') expect(rows).toEqual([]);
      },
    };
  };
}

const inside01 = (code: string | null) => code !== null && code.startsWith('01');

/** A report of state 01 (`in`, by the observer) or 13 (`out`, by the other observer), new for writes. */
async function freshReport(where: 'in' | 'out'): Promise<string> {
  const [author, centre] = where === 'in' ? [world.observer, '010101001'] : [world.other, '130101001'];
  const payload = votingReport(centre);
  const response = await send({ method: 'POST', url: '/v1/reports', payload }, author.headers);
  expect(response.statusCode, response.body).toBe(201);
  return payload.id;
}

/** The report a row is about: `in`/`self` inside the caller's reach, `out` outside it, `unknown` a random id. */
async function reportFor(who: Caller | null, scope: Scope, fresh: boolean): Promise<string> {
  if (scope === 'unknown') return randomUUID();
  // State 13 is `in` for the analyst scoped to 13 and `out` for everyone else.
  const where = who === 'analyst13' ? (scope === 'in' ? 'out' : 'in') : scope === 'out' ? 'out' : 'in';
  if (fresh) return freshReport(where);
  return where === 'in' ? world.reportIn : world.reportOut;
}

/** The photo a row is about, on the report reportFor would pick. */
async function photoFor(who: Caller | null, scope: Scope): Promise<string> {
  if (scope === 'unknown') return randomUUID();
  return (await reportFor(who, scope, false)) === world.reportIn ? world.photoIn : world.photoOut;
}

function photoRead(path: (id: string) => string): Build {
  return async (who, scope) => {
    const id = await photoFor(who, scope);
    return { method: 'GET', url: path(id), hiddenId: id };
  };
}

function reportRead(path: (id: string) => string, verify: (body: Json, id: string) => void): Build {
  return async (who, scope) => {
    const id = await reportFor(who, scope, false);
    return { method: 'GET', url: path(id), hiddenId: id, verify: (body) => verify(body, id) };
  };
}

const routes = {
  'POST /v1/registry/import': async () => ({
    method: 'POST',
    url: '/v1/registry/import',
    csv: sample,
    verify: (summary) => expect(summary).toMatchObject({ rows: 8, centres: { created: 0, updated: 0, unchanged: 5 } }),
  }),
  'GET /v1/regions': async () => ({
    method: 'GET',
    url: '/v1/regions',
    verify: (body) => expect(codes(body.items)).toEqual(['01', '13']),
  }),
  'GET /v1/regions/{code}': async (who, scope) => {
    const code = registryCode(who, scope, 'region');
    return { method: 'GET', url: `/v1/regions/${code}`, verify: (region) => expect(region.code).toBe(code) };
  },
  'GET /v1/centres': async (who, scope) => {
    const region = registryCode(who, scope, 'region');
    return {
      method: 'GET',
      url: `/v1/centres?region=${region}`,
      verify: (body) => {
        expect(body.items.length).toBeGreaterThan(0);
        for (const centre of body.items)
          expect([centre.stateCode, centre.municipalityCode, centre.parishCode]).toContain(region);
      },
    };
  },
  'GET /v1/centres/{code}': async (who, scope) => {
    const code = registryCode(who, scope, 'centre');
    return { method: 'GET', url: `/v1/centres/${code}`, verify: (centre) => expect(centre.code).toBe(code) };
  },

  'POST /v1/users': async (who, scope) => {
    const scopeRegion = scope === 'out' ? '13' : '0101';
    return createUser(
      () => ({ name: `Created ${unique()}`, role: 'observer', scopeRegion }),
      (user) => expect(user.scopeRegion).toBe(scopeRegion),
    )(who, scope);
  },
  'POST /v1/users (scopeRegion omitted)': createUser(
    () => ({ name: `Unscoped ${unique()}`, role: 'observer' }),
    // A coordinator's observers default to the coordinator's region; an admin's act anywhere.
    (user, who) => expect(user.scopeRegion).toBe(who === 'coordinator' ? '01' : null),
  ),
  'POST /v1/users {role: coordinator}': createUser(() => ({
    name: `Coordinator ${unique()}`,
    role: 'coordinator',
    scopeRegion: '0101',
  })),
  'POST /v1/users {role: analyst}': createUser(() => ({
    name: `Analyst ${unique()}`,
    role: 'analyst',
    scopeRegion: '0101',
  })),
  'POST /v1/users {role: admin}': createUser(() => ({ name: `Admin ${unique()}`, role: 'admin' })),
  'POST /v1/users {centres: [130101001]}': createUser(
    () => ({ name: `Far ${unique()}`, role: 'observer', centres: ['130101001'] }),
    (user) => expect(user.assignments.map((a: Json) => a.centreCode)).toEqual(['130101001']),
  ),
  'POST /v1/users +id': createUser(
    () => ({ id: randomUUID(), name: `With id ${unique()}`, role: 'observer', scopeRegion: '0101' }),
    undefined,
    'id',
  ),
  'POST /v1/users +createdAt': createUser(
    () => ({
      name: `Backdated ${unique()}`,
      role: 'observer',
      scopeRegion: '0101',
      createdAt: '2020-01-01T00:00:00.000Z',
    }),
    undefined,
    'createdAt',
  ),

  'GET /v1/users': async (who, scope) => ({
    method: 'GET',
    url: scope === 'out' ? '/v1/users?region=13&limit=500' : '/v1/users?limit=500',
    verify: (page) => {
      const ids = page.items.map((user: Json) => user.id as string);
      if (who === 'admin') {
        expect(ids).toEqual(
          expect.arrayContaining([
            admin.id,
            world.coordinator.id,
            world.analyst.id,
            world.analyst13.id,
            world.observer.id,
            world.other.id,
          ]),
        );
      } else if (scope === 'out') {
        // A coordinator asking for another state sees nobody, not the users scoped there.
        expect(ids).toEqual([]);
      } else {
        expect(ids).toEqual(expect.arrayContaining([world.coordinator.id, world.observer.id]));
        for (const user of page.items)
          expect(user.id === world.coordinator.id || inside01(user.scopeRegion), JSON.stringify(user)).toBe(true);
        for (const hidden of [admin.id, world.analyst.id, world.analyst13.id, world.other.id])
          expect(ids).not.toContain(hidden);
      }
    },
  }),
  'GET /v1/users/{id}': async (who, scope) => {
    const target = await subject(who, scope, false);
    return {
      method: 'GET',
      url: `/v1/users/${target.id}`,
      hiddenId: target.id,
      verify: (user) => expect(user.id).toBe(target.id),
    };
  },
  'PATCH /v1/users/{id}': async (who, scope) => {
    const name = `Renamed ${unique()}`;
    return patchUser(
      () => ({ name }),
      (user) => expect(user.name).toBe(name),
    )(who, scope);
  },
  'PATCH /v1/users/{id} {role: analyst}': patchUser(
    () => ({ role: 'analyst' }),
    (user) => expect(user.role).toBe('analyst'),
  ),
  'PATCH /v1/users/{id} {scopeRegion: 13}': patchUser(
    () => ({ scopeRegion: '13' }),
    (user) => expect(user.scopeRegion).toBe('13'),
  ),
  'PATCH /v1/users/{id} {active: false}': patchUser(
    () => ({ active: false }),
    (user) => expect(user).toMatchObject({ active: false, deactivatedAt: expect.any(String) }),
  ),
  'PATCH /v1/users/{id} +id': patchUser(
    () => ({ name: `X ${unique()}`, id: randomUUID() }),
    () => undefined,
    'id',
  ),
  'PATCH /v1/users/{id} +createdAt': patchUser(
    () => ({ name: `X ${unique()}`, createdAt: '2020-01-01T00:00:00.000Z' }),
    () => undefined,
    'createdAt',
  ),
  'PATCH /v1/users/{id} +deactivatedAt': patchUser(
    () => ({ deactivatedAt: '2020-01-01T00:00:00.000Z' }),
    () => undefined,
    'deactivatedAt',
  ),

  'POST /v1/users/{id}/tokens': issueTokenTo(() => ({ name: `token ${unique()}` })),
  'POST /v1/users/{id}/tokens +role': issueTokenTo(() => ({ name: 'elevated', role: 'admin' }), 'role'),
  'POST /v1/users/{id}/tokens +userId': issueTokenTo(() => ({ name: 'redirected', userId: admin.id }), 'userId'),
  'GET /v1/users/{id}/tokens': async (who, scope) => {
    const target = await subject(who, scope, false);
    return {
      method: 'GET',
      url: `/v1/users/${target.id}/tokens`,
      hiddenId: target.id,
      verify: (body) => {
        expect(body.items.map((token: Json) => token.id)).toContain(target.tokenId);
        for (const token of body.items) {
          expect(token.userId).toBe(target.id);
          expect(token).not.toHaveProperty('token');
          expect(token).not.toHaveProperty('hash');
        }
      },
    };
  },
  'DELETE /v1/tokens/{id}': async (who, scope) => {
    const owner = await subject(who, scope, true);
    // A spare token, so that revoking it never takes away the token a caller uses.
    const tokenId = who === null || scope === 'unknown' ? owner.tokenId : (await issueToken(owner.id)).id;
    const revokedAt = async () =>
      (await db.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM api_tokens WHERE id = $1', [tokenId]))[0]
        ?.revoked_at;
    return {
      method: 'DELETE',
      url: `/v1/tokens/${tokenId}`,
      hiddenId: tokenId,
      verify: async () => expect(await revokedAt()).toBeInstanceOf(Date),
      unchanged: async () => {
        if (scope !== 'unknown') expect(await revokedAt()).toBeNull();
      },
    };
  },
  'PUT /v1/users/{id}/assignments': assign((scope) => (scope === 'out' ? ['130101001'] : ['010101001', '010102001'])),
  'PUT /v1/users/{id}/assignments [130101001]': assign(() => ['130101001']),
  'PUT /v1/users/{id}/assignments +userId': assign(() => ['010101001'], { userId: randomUUID() }, 'userId'),
  'GET /v1/me': async (who) => ({
    method: 'GET',
    url: '/v1/me',
    verify: (me) => {
      const actor = actorOf(who!);
      expect(me).toMatchObject({ id: actor.id, role: actor.role, token: { id: actor.tokenId } });
    },
  }),
  'POST /v1/users/import': async (_who, scope) => {
    const externalId = `MX-${unique()}`;
    const [region, centre] = scope === 'out' ? ['13', '130101001'] : ['0101', '010101001'];
    return {
      method: 'POST',
      url: '/v1/users/import',
      csv: `external_id,name,scope_region,centres\n${externalId},Imported ${externalId},${region},${centre}\n`,
      verify: (result) => {
        expect(result).toMatchObject({
          rows: 1,
          created: 1,
          updated: 0,
          unchanged: 0,
          users: [{ externalId, status: 'created' }],
        });
        expect(result.users[0].token).toMatch(/^tg_/);
      },
      verifyProblem: {
        USERS_CSV_INVALID: (problem) =>
          expect(problem.errors).toEqual([
            expect.objectContaining({ line: 2, message: 'Region 13 is outside your scope' }),
          ]),
      },
      unchanged: async () =>
        expect(await db.query('SELECT id FROM users WHERE external_id = $1', [externalId])).toEqual([]),
    };
  },
  'GET /v1/audit': async () => ({
    method: 'GET',
    url: '/v1/audit?limit=5',
    verify: (page) => expect(page.items.length).toBeGreaterThan(0),
  }),

  'GET /v1/log/checkpoint': async () => ({
    method: 'GET',
    url: '/v1/log/checkpoint',
    verify: (body) => expect(body.text).toMatch(/^testigo\.test\/log\n\d+\n/),
  }),
  'GET /v1/log/key': async () => ({
    method: 'GET',
    url: '/v1/log/key',
    verify: (body) => expect(body.text).toMatch(/^testigo\.test\/log\+[0-9a-f]{8}\+/),
  }),
  'GET /v1/log/proof/inclusion': async () => {
    await app.services.log.integrateAll();
    return { method: 'GET', url: '/v1/log/proof/inclusion?index=0', verify: (body) => expect(body.index).toBe(0) };
  },
  'GET /v1/log/proof/consistency': async () => {
    await app.services.log.integrateAll();
    return { method: 'GET', url: '/v1/log/proof/consistency?from=1', verify: (body) => expect(body.from).toBe(1) };
  },
  'GET /v1/log/entries': async () => {
    await app.services.log.integrateAll();
    return {
      method: 'GET',
      url: '/v1/log/entries?start=0&end=1',
      verify: (body) => expect(body.entries).toHaveLength(1),
    };
  },
  'GET /v1/log/tile/{*}': async () => {
    await app.services.log.integrateAll();
    return { method: 'GET', url: '/v1/log/tile/entries/000.p/1' };
  },
  'GET /v1/log/audit': async () => ({
    method: 'GET',
    url: '/v1/log/audit',
    verify: (body) => expect(body.problems).toEqual([]),
  }),
  'GET /v1/forms': async () => ({
    method: 'GET',
    url: '/v1/forms',
    verify: (body) => expect(body.items).toHaveLength(6),
  }),
  'GET /v1/forms/{key}': async () => ({
    method: 'GET',
    url: '/v1/forms/opening',
    verify: (body) => expect(body).toMatchObject({ key: 'opening', version: 1 }),
  }),
  'GET /v1/forms/{key}/versions/{version}': async () => ({
    method: 'GET',
    url: '/v1/forms/incident/versions/1',
    verify: (body) => expect(body).toMatchObject({ key: 'incident', version: 1 }),
  }),
  'POST /v1/forms': async () => {
    const definition = matrixForm();
    return {
      method: 'POST',
      url: '/v1/forms',
      payload: definition,
      verify: (body) => expect(body).toMatchObject({ key: definition.key, version: 1 }),
      unchanged: async () => expect(await db.query('SELECT 1 FROM forms WHERE key = $1', [definition.key])).toEqual([]),
    };
  },
  'POST /v1/forms/{key}/versions': async () => {
    const definition = await createdForm();
    return {
      method: 'POST',
      url: `/v1/forms/${definition.key}/versions`,
      payload: definition,
      verify: (body) => expect(body).toMatchObject({ key: definition.key, version: 2 }),
      unchanged: async () =>
        expect(await db.query('SELECT version FROM form_versions WHERE form_key = $1', [definition.key])).toEqual([
          { version: 1 },
        ]),
    };
  },
  'POST /v1/forms/{key}/versions/{version}/retire': async () => {
    const definition = await createdForm();
    return {
      method: 'POST',
      url: `/v1/forms/${definition.key}/versions/1/retire`,
      verify: (body) => expect(body).toMatchObject({ key: definition.key, version: 1, retired: true }),
      unchanged: async () =>
        expect(await db.query('SELECT retired_at FROM form_versions WHERE form_key = $1', [definition.key])).toEqual([
          { retired_at: null },
        ]),
    };
  },
  'GET /v1/election': async () => ({
    method: 'GET',
    url: '/v1/election',
    verify: (body) => expect(body.name).toBe(election.name),
  }),
  'PUT /v1/election': async () => ({
    method: 'PUT',
    url: '/v1/election',
    payload: election,
    verify: (body) => expect(body.candidates).toHaveLength(2),
  }),
  'POST /v1/reports': async (who, scope) => {
    const payload = votingReport(scope === 'out' ? homes[who ?? 'admin'].centre[1] : '010101001');
    return {
      method: 'POST',
      url: '/v1/reports',
      payload,
      verify: (report) => expect(report).toMatchObject({ id: payload.id, observerId: actorOf(who!).id }),
      unchanged: async () => expect(await db.query('SELECT 1 FROM reports WHERE id = $1', [payload.id])).toEqual([]),
    };
  },
  'POST /v1/reports/batch': async () => {
    const payload = votingReport('010101001');
    return {
      method: 'POST',
      url: '/v1/reports/batch',
      payload: { reports: [payload] },
      verify: (body) => expect(body).toMatchObject({ created: 1, failed: 0 }),
    };
  },
  'GET /v1/reports': async (who) => ({
    method: 'GET',
    url: '/v1/reports?limit=500',
    verify: (page) => {
      const ids = page.items.map((report: Json) => report.id);
      const sees = { in: ids.includes(world.reportIn), out: ids.includes(world.reportOut) };
      const expected = {
        admin: { in: true, out: true },
        analyst: { in: true, out: true },
        coordinator: { in: true, out: false },
        analyst13: { in: false, out: true },
        observer: { in: true, out: false },
      }[who!];
      expect(sees).toEqual(expected);
      if (who === 'observer') for (const report of page.items) expect(report.observerId).toBe(world.observer.id);
    },
  }),
  'GET /v1/reports/export': async (who) => ({
    method: 'GET',
    url: '/v1/reports/export?format=ndjson',
    verify: (body) => {
      const ids = String(body.text)
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).id);
      expect({ in: ids.includes(world.reportIn), out: ids.includes(world.reportOut) }).toEqual(
        {
          admin: { in: true, out: true },
          analyst: { in: true, out: true },
          coordinator: { in: true, out: false },
          analyst13: { in: false, out: true },
          observer: { in: true, out: false },
        }[who!],
      );
    },
  }),
  'GET /v1/summaries': async (who) => ({
    method: 'GET',
    url: '/v1/summaries?level=state',
    verify: (body) =>
      expect(body.items.map((row: Json) => row.code)).toEqual(
        { admin: ['01', '13'], analyst: ['01', '13'], coordinator: ['01'], analyst13: ['13'] }[who as string],
      ),
  }),
  'GET /v1/summaries/stream': async (who) => ({
    method: 'GET',
    url: '/v1/summaries/stream',
    stream: true,
    verify: (body) => {
      const data = JSON.parse(/\ndata: (.*)\n/.exec(String(body.text))![1]!) as Json;
      expect(codes(data.states as Json[])).toEqual(
        { admin: ['01', '13'], analyst: ['01', '13'], coordinator: ['01'], analyst13: ['13'] }[who as string],
      );
      expect(data.national === null).toBe(who === 'coordinator' || who === 'analyst13');
    },
  }),
  'GET /v1/analysis': async (who) => ({
    method: 'GET',
    url: '/v1/analysis?kind=voting&level=state',
    verify: (body) =>
      expect(body.rows.map((row: Json) => row.code)).toEqual(
        { admin: ['01', '13'], analyst: ['01', '13'], coordinator: ['01'], analyst13: ['13'] }[who as string],
      ),
  }),
  'GET /v1/analysis/national': async () => ({
    method: 'GET',
    url: '/v1/analysis/national?kind=voting',
    verify: (body) => expect(body.rows.map((row: Json) => row.code)).toHaveLength(1),
  }),
  'GET /v1/summaries.geojson': async (who) => ({
    method: 'GET',
    url: '/v1/summaries.geojson?level=state',
    verify: (body) =>
      expect((JSON.parse(String(body.text)) as Json).features.map((feature: Json) => feature.properties.code)).toEqual(
        { admin: ['01', '13'], analyst: ['01', '13'], coordinator: ['01'], analyst13: ['13'] }[who as string],
      ),
  }),
  'GET /v1/centres.geojson': async () => ({
    method: 'GET',
    url: '/v1/centres.geojson',
    verify: (body) => expect((JSON.parse(String(body.text)) as Json).type).toBe('FeatureCollection'),
  }),
  'GET /v1/summaries/national': async () => ({
    method: 'GET',
    url: '/v1/summaries/national',
    verify: (body) => expect(body.coverage.centres).toBe(5),
  }),
  'GET /v1/summaries/timeline': async () => ({
    method: 'GET',
    url: '/v1/summaries/timeline',
    verify: (body) => expect(body.items.length).toBeGreaterThan(0),
  }),
  'GET /v1/summaries/missing': async (who) => ({
    method: 'GET',
    url: '/v1/summaries/missing?kind=closing',
    verify: (body) => {
      const states = [...new Set(body.items.map((centre: Json) => centre.stateCode))].sort();
      expect(states).toEqual(
        { admin: ['01', '13'], analyst: ['01', '13'], coordinator: ['01'], analyst13: ['13'] }[who as string],
      );
      // Observers' contact details go to those who manage them, not to analysts.
      if (String(who).startsWith('analyst'))
        for (const centre of body.items) for (const observer of centre.observers) expect(observer.phone).toBeNull();
    },
  }),
  'GET /v1/reports/{id}': reportRead(
    (id) => `/v1/reports/${id}`,
    (report, id) => expect(report.id).toBe(id),
  ),
  'GET /v1/reports/{id}/revisions': reportRead(
    (id) => `/v1/reports/${id}/revisions`,
    (body) => expect(body.items[0].number).toBe(1),
  ),
  'POST /v1/reports/{id}/revisions': async (who, scope) => {
    const id = who === null ? randomUUID() : await reportFor(who, scope, true);
    return {
      method: 'POST',
      url: `/v1/reports/${id}/revisions`,
      payload: { answers: { ...votingAnswers, waitingMinutes: 45 }, reason: 'matrix' },
      hiddenId: id,
      verify: (report) => expect(report).toMatchObject({ id, revision: 2 }),
      unchanged: async () => {
        const rows = await db.query<{ revision: number }>('SELECT revision FROM reports WHERE id = $1', [id]);
        if (rows.length > 0) expect(rows[0]!.revision).toBe(1);
      },
    };
  },
  'POST /v1/reports/{id}/review': async (who, scope) => {
    const id = who === null ? randomUUID() : await reportFor(who, scope, true);
    return {
      method: 'POST',
      url: `/v1/reports/${id}/review`,
      payload: { state: 'verified', note: 'matrix' },
      hiddenId: id,
      verify: (report) => expect(report).toMatchObject({ id, reviewState: 'verified' }),
      unchanged: async () => {
        const rows = await db.query<{ review_state: string }>('SELECT review_state FROM reports WHERE id = $1', [id]);
        if (rows.length > 0) expect(rows[0]!.review_state).toBe('unreviewed');
      },
    };
  },
  'POST /v1/reports/{id}/photos': async (who, scope) => {
    const id = who === null ? randomUUID() : await reportFor(who, scope, true);
    return {
      method: 'POST',
      url: `/v1/reports/${id}/photos`,
      form: await photoForm(),
      hiddenId: id,
      verify: (photo) => expect(photo).toMatchObject({ reportId: id, contentType: 'image/jpeg' }),
      unchanged: async () =>
        expect(await db.query('SELECT 1 FROM photos WHERE report_id::text = $1', [id])).toEqual([]),
    };
  },
  'GET /v1/photos/{id}': photoRead((id) => `/v1/photos/${id}`),
  'GET /v1/photos/{id}/content': photoRead((id) => `/v1/photos/${id}/content`),
  'GET /v1/photos/{id}/thumbnail': photoRead((id) => `/v1/photos/${id}/thumbnail`),
} satisfies Record<string, Build>;

type Route = keyof typeof routes;
const build: Record<Route, Build> = routes;

let forms = 0;
/** A form definition of its own for each row that writes one. */
function matrixForm() {
  forms += 1;
  return {
    key: `matrix_${forms}`,
    title: 'Matrix form',
    unit: 'centre',
    questions: [{ key: 'ok', type: 'boolean', label: 'OK?' }],
  };
}
/** A form created by the admin (for the rows that publish or retire a version of it). */
async function createdForm() {
  const definition = matrixForm();
  const response = await app.inject({ method: 'POST', url: '/v1/forms', headers: admin.headers, payload: definition });
  expect(response.statusCode, response.body).toBe(201);
  return definition;
}
type Row = [route: Route, caller: Caller, scope: Scope, status: number, expected: Expectation];

const matrix: Row[] = [
  // The registry: imports are for admins; reads for every authenticated role, with no regional scope.
  ['POST /v1/registry/import', 'admin', '-', 200, 'audit:registry.imported'],
  ['POST /v1/registry/import', 'coordinator', '-', 403, 'FORBIDDEN'],
  ['POST /v1/registry/import', 'analyst', '-', 403, 'FORBIDDEN'],
  ['POST /v1/registry/import', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['POST /v1/registry/import', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/regions', 'admin', '-', 200, 'ok'],
  ['GET /v1/regions', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/regions', 'analyst', '-', 200, 'ok'],
  ['GET /v1/regions', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/regions', 'observer', '-', 200, 'ok'],
  ['GET /v1/regions/{code}', 'admin', '-', 200, 'ok'],
  ['GET /v1/regions/{code}', 'coordinator', 'in', 200, 'ok'],
  ['GET /v1/regions/{code}', 'coordinator', 'out', 200, 'ok'],
  ['GET /v1/regions/{code}', 'analyst', '-', 200, 'ok'],
  ['GET /v1/regions/{code}', 'analyst13', 'in', 200, 'ok'],
  ['GET /v1/regions/{code}', 'analyst13', 'out', 200, 'ok'],
  ['GET /v1/regions/{code}', 'observer', 'in', 200, 'ok'],
  ['GET /v1/regions/{code}', 'observer', 'out', 200, 'ok'],
  ['GET /v1/centres', 'admin', '-', 200, 'ok'],
  ['GET /v1/centres', 'coordinator', 'in', 200, 'ok'],
  ['GET /v1/centres', 'coordinator', 'out', 200, 'ok'],
  ['GET /v1/centres', 'analyst', '-', 200, 'ok'],
  ['GET /v1/centres', 'analyst13', 'in', 200, 'ok'],
  ['GET /v1/centres', 'analyst13', 'out', 200, 'ok'],
  ['GET /v1/centres', 'observer', 'in', 200, 'ok'],
  ['GET /v1/centres', 'observer', 'out', 200, 'ok'],
  ['GET /v1/centres/{code}', 'admin', '-', 200, 'ok'],
  ['GET /v1/centres/{code}', 'coordinator', 'in', 200, 'ok'],
  ['GET /v1/centres/{code}', 'coordinator', 'out', 200, 'ok'],
  ['GET /v1/centres/{code}', 'analyst', '-', 200, 'ok'],
  ['GET /v1/centres/{code}', 'analyst13', 'in', 200, 'ok'],
  ['GET /v1/centres/{code}', 'analyst13', 'out', 200, 'ok'],
  ['GET /v1/centres/{code}', 'observer', 'in', 200, 'ok'],
  ['GET /v1/centres/{code}', 'observer', 'out', 200, 'ok'],

  // Creating users: admins any role; coordinators observers inside their subtree; nobody else.
  ['POST /v1/users', 'admin', 'in', 201, 'audit:user.created'],
  ['POST /v1/users', 'coordinator', 'in', 201, 'audit:user.created'],
  ['POST /v1/users', 'coordinator', 'out', 403, 'FORBIDDEN'],
  ['POST /v1/users', 'analyst', '-', 403, 'FORBIDDEN'],
  ['POST /v1/users', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['POST /v1/users', 'observer', '-', 403, 'FORBIDDEN'],
  ['POST /v1/users (scopeRegion omitted)', 'admin', 'in', 201, 'audit:user.created'],
  ['POST /v1/users (scopeRegion omitted)', 'coordinator', 'in', 201, 'audit:user.created'],
  ['POST /v1/users {role: coordinator}', 'admin', 'in', 201, 'audit:user.created'],
  ['POST /v1/users {role: coordinator}', 'coordinator', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/users {role: analyst}', 'coordinator', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/users {role: admin}', 'coordinator', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/users {centres: [130101001]}', 'admin', 'in', 201, 'audit:user.created'],
  ['POST /v1/users {centres: [130101001]}', 'coordinator', 'in', 422, 'ASSIGNMENT_INVALID'],
  ['POST /v1/users +id', 'admin', 'in', 400, 'VALIDATION_FAILED'],
  ['POST /v1/users +id', 'coordinator', 'in', 400, 'VALIDATION_FAILED'],
  ['POST /v1/users +id', 'analyst', '-', 403, 'FORBIDDEN'],
  ['POST /v1/users +createdAt', 'admin', 'in', 400, 'VALIDATION_FAILED'],
  ['POST /v1/users +createdAt', 'coordinator', 'in', 400, 'VALIDATION_FAILED'],

  // Listing and reading users: managers list whom they manage; everyone reads itself; the rest is 404.
  ['GET /v1/users', 'admin', '-', 200, 'ok'],
  ['GET /v1/users', 'coordinator', 'in', 200, 'ok'],
  ['GET /v1/users', 'coordinator', 'out', 200, 'ok'],
  ['GET /v1/users', 'analyst', '-', 403, 'FORBIDDEN'],
  ['GET /v1/users', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['GET /v1/users', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/users/{id}', 'admin', 'in', 200, 'ok'],
  ['GET /v1/users/{id}', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['GET /v1/users/{id}', 'coordinator', 'self', 200, 'ok'],
  ['GET /v1/users/{id}', 'coordinator', 'in', 200, 'ok'],
  ['GET /v1/users/{id}', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/users/{id}', 'analyst', 'self', 200, 'ok'],
  ['GET /v1/users/{id}', 'analyst', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/users/{id}', 'analyst13', 'self', 200, 'ok'],
  ['GET /v1/users/{id}', 'analyst13', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/users/{id}', 'observer', 'self', 200, 'ok'],
  ['GET /v1/users/{id}', 'observer', 'out', 404, 'NOT_FOUND'],

  // Changing users: admins anyone; coordinators their observers, never roles nor beyond their region.
  ['PATCH /v1/users/{id}', 'admin', 'in', 200, 'audit:user.updated'],
  ['PATCH /v1/users/{id}', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['PATCH /v1/users/{id}', 'coordinator', 'in', 200, 'audit:user.updated'],
  ['PATCH /v1/users/{id}', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['PATCH /v1/users/{id}', 'coordinator', 'self', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id}', 'analyst', 'self', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id}', 'analyst', 'out', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id}', 'analyst13', 'self', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id}', 'analyst13', 'out', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id}', 'observer', 'self', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id}', 'observer', 'out', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id} {role: analyst}', 'admin', 'in', 200, 'audit:user.updated'],
  ['PATCH /v1/users/{id} {role: analyst}', 'coordinator', 'in', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id} {scopeRegion: 13}', 'admin', 'in', 200, 'audit:user.updated'],
  ['PATCH /v1/users/{id} {scopeRegion: 13}', 'coordinator', 'in', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id} {active: false}', 'admin', 'in', 200, 'audit:user.deactivated'],
  ['PATCH /v1/users/{id} {active: false}', 'coordinator', 'in', 200, 'audit:user.deactivated'],
  ['PATCH /v1/users/{id} {active: false}', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['PATCH /v1/users/{id} {active: false}', 'observer', 'self', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id} +id', 'admin', 'in', 400, 'VALIDATION_FAILED'],
  ['PATCH /v1/users/{id} +id', 'coordinator', 'in', 400, 'VALIDATION_FAILED'],
  ['PATCH /v1/users/{id} +id', 'observer', 'self', 403, 'FORBIDDEN'],
  ['PATCH /v1/users/{id} +createdAt', 'admin', 'in', 400, 'VALIDATION_FAILED'],
  ['PATCH /v1/users/{id} +createdAt', 'coordinator', 'in', 400, 'VALIDATION_FAILED'],
  ['PATCH /v1/users/{id} +deactivatedAt', 'admin', 'in', 400, 'VALIDATION_FAILED'],

  // Tokens: issued by managers to users they manage; listed and revoked by their owner or its managers.
  ['POST /v1/users/{id}/tokens', 'admin', 'in', 201, 'audit:token.created'],
  ['POST /v1/users/{id}/tokens', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['POST /v1/users/{id}/tokens', 'coordinator', 'in', 201, 'audit:token.created'],
  ['POST /v1/users/{id}/tokens', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['POST /v1/users/{id}/tokens', 'coordinator', 'self', 403, 'FORBIDDEN'],
  ['POST /v1/users/{id}/tokens', 'analyst', 'self', 403, 'FORBIDDEN'],
  ['POST /v1/users/{id}/tokens', 'analyst', 'out', 403, 'FORBIDDEN'],
  ['POST /v1/users/{id}/tokens', 'analyst13', 'self', 403, 'FORBIDDEN'],
  ['POST /v1/users/{id}/tokens', 'analyst13', 'out', 403, 'FORBIDDEN'],
  ['POST /v1/users/{id}/tokens', 'observer', 'self', 403, 'FORBIDDEN'],
  ['POST /v1/users/{id}/tokens', 'observer', 'out', 403, 'FORBIDDEN'],
  ['POST /v1/users/{id}/tokens +role', 'admin', 'in', 400, 'VALIDATION_FAILED'],
  ['POST /v1/users/{id}/tokens +role', 'coordinator', 'in', 400, 'VALIDATION_FAILED'],
  ['POST /v1/users/{id}/tokens +userId', 'admin', 'in', 400, 'VALIDATION_FAILED'],
  ['GET /v1/users/{id}/tokens', 'admin', 'in', 200, 'ok'],
  ['GET /v1/users/{id}/tokens', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['GET /v1/users/{id}/tokens', 'coordinator', 'self', 200, 'ok'],
  ['GET /v1/users/{id}/tokens', 'coordinator', 'in', 200, 'ok'],
  ['GET /v1/users/{id}/tokens', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/users/{id}/tokens', 'analyst', 'self', 200, 'ok'],
  ['GET /v1/users/{id}/tokens', 'analyst', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/users/{id}/tokens', 'analyst13', 'self', 200, 'ok'],
  ['GET /v1/users/{id}/tokens', 'analyst13', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/users/{id}/tokens', 'observer', 'self', 200, 'ok'],
  ['GET /v1/users/{id}/tokens', 'observer', 'out', 404, 'NOT_FOUND'],
  // Revoking your own token is open to every role (including analysts): it only ever takes access away.
  ['DELETE /v1/tokens/{id}', 'admin', 'in', 204, 'audit:token.revoked'],
  ['DELETE /v1/tokens/{id}', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['DELETE /v1/tokens/{id}', 'coordinator', 'self', 204, 'audit:token.revoked'],
  ['DELETE /v1/tokens/{id}', 'coordinator', 'in', 204, 'audit:token.revoked'],
  ['DELETE /v1/tokens/{id}', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['DELETE /v1/tokens/{id}', 'analyst', 'self', 204, 'audit:token.revoked'],
  ['DELETE /v1/tokens/{id}', 'analyst', 'out', 404, 'NOT_FOUND'],
  ['DELETE /v1/tokens/{id}', 'analyst13', 'self', 204, 'audit:token.revoked'],
  ['DELETE /v1/tokens/{id}', 'analyst13', 'out', 404, 'NOT_FOUND'],
  ['DELETE /v1/tokens/{id}', 'observer', 'self', 204, 'audit:token.revoked'],
  ['DELETE /v1/tokens/{id}', 'observer', 'out', 404, 'NOT_FOUND'],

  // Assignments: managers, for observers they manage, with centres inside the observer's region.
  ['PUT /v1/users/{id}/assignments', 'admin', 'in', 200, 'audit:assignments.replaced'],
  ['PUT /v1/users/{id}/assignments', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['PUT /v1/users/{id}/assignments', 'coordinator', 'in', 200, 'audit:assignments.replaced'],
  ['PUT /v1/users/{id}/assignments', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['PUT /v1/users/{id}/assignments', 'coordinator', 'self', 403, 'FORBIDDEN'],
  ['PUT /v1/users/{id}/assignments', 'analyst', 'self', 403, 'FORBIDDEN'],
  ['PUT /v1/users/{id}/assignments', 'analyst', 'out', 403, 'FORBIDDEN'],
  ['PUT /v1/users/{id}/assignments', 'analyst13', 'self', 403, 'FORBIDDEN'],
  ['PUT /v1/users/{id}/assignments', 'analyst13', 'out', 403, 'FORBIDDEN'],
  ['PUT /v1/users/{id}/assignments', 'observer', 'self', 403, 'FORBIDDEN'],
  ['PUT /v1/users/{id}/assignments', 'observer', 'out', 403, 'FORBIDDEN'],
  ['PUT /v1/users/{id}/assignments [130101001]', 'admin', 'in', 422, 'ASSIGNMENT_INVALID'],
  ['PUT /v1/users/{id}/assignments [130101001]', 'coordinator', 'in', 422, 'ASSIGNMENT_INVALID'],
  ['PUT /v1/users/{id}/assignments +userId', 'admin', 'in', 400, 'VALIDATION_FAILED'],
  ['PUT /v1/users/{id}/assignments +userId', 'coordinator', 'in', 400, 'VALIDATION_FAILED'],

  ['GET /v1/me', 'admin', 'self', 200, 'ok'],
  ['GET /v1/me', 'coordinator', 'self', 200, 'ok'],
  ['GET /v1/me', 'analyst', 'self', 200, 'ok'],
  ['GET /v1/me', 'analyst13', 'self', 200, 'ok'],
  ['GET /v1/me', 'observer', 'self', 200, 'ok'],

  ['POST /v1/users/import', 'admin', 'in', 200, 'audit:users.imported'],
  ['POST /v1/users/import', 'coordinator', 'in', 200, 'audit:users.imported'],
  ['POST /v1/users/import', 'coordinator', 'out', 422, 'USERS_CSV_INVALID'],
  ['POST /v1/users/import', 'analyst', '-', 403, 'FORBIDDEN'],
  ['POST /v1/users/import', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['POST /v1/users/import', 'observer', '-', 403, 'FORBIDDEN'],

  ['GET /v1/audit', 'admin', '-', 200, 'ok'],
  ['GET /v1/audit', 'coordinator', '-', 403, 'FORBIDDEN'],
  ['GET /v1/audit', 'analyst', '-', 403, 'FORBIDDEN'],
  ['GET /v1/audit', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['GET /v1/audit', 'observer', '-', 403, 'FORBIDDEN'],

  // The log: every role reads it; the audit is for admins.
  ['GET /v1/log/checkpoint', 'admin', '-', 200, 'ok'],
  ['GET /v1/log/checkpoint', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/log/checkpoint', 'analyst', '-', 200, 'ok'],
  ['GET /v1/log/checkpoint', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/log/checkpoint', 'observer', '-', 200, 'ok'],
  ['GET /v1/log/key', 'admin', '-', 200, 'ok'],
  ['GET /v1/log/key', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/log/key', 'analyst', '-', 200, 'ok'],
  ['GET /v1/log/key', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/log/key', 'observer', '-', 200, 'ok'],
  ['GET /v1/log/proof/inclusion', 'admin', '-', 200, 'ok'],
  ['GET /v1/log/proof/inclusion', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/log/proof/inclusion', 'analyst', '-', 200, 'ok'],
  ['GET /v1/log/proof/inclusion', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/log/proof/inclusion', 'observer', '-', 200, 'ok'],
  ['GET /v1/log/proof/consistency', 'admin', '-', 200, 'ok'],
  ['GET /v1/log/proof/consistency', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/log/proof/consistency', 'analyst', '-', 200, 'ok'],
  ['GET /v1/log/proof/consistency', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/log/proof/consistency', 'observer', '-', 200, 'ok'],
  ['GET /v1/log/entries', 'admin', '-', 200, 'ok'],
  ['GET /v1/log/entries', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/log/entries', 'analyst', '-', 200, 'ok'],
  ['GET /v1/log/entries', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/log/entries', 'observer', '-', 200, 'ok'],
  ['GET /v1/log/tile/{*}', 'admin', '-', 200, 'ok'],
  ['GET /v1/log/tile/{*}', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/log/tile/{*}', 'analyst', '-', 200, 'ok'],
  ['GET /v1/log/tile/{*}', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/log/tile/{*}', 'observer', '-', 200, 'ok'],
  ['GET /v1/log/audit', 'admin', '-', 200, 'ok'],
  ['GET /v1/log/audit', 'coordinator', '-', 403, 'FORBIDDEN'],
  ['GET /v1/log/audit', 'analyst', '-', 403, 'FORBIDDEN'],
  ['GET /v1/log/audit', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['GET /v1/log/audit', 'observer', '-', 403, 'FORBIDDEN'],

  // The election: everyone reads it; admins set it.
  ['GET /v1/forms', 'admin', '-', 200, 'ok'],
  ['GET /v1/forms', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/forms', 'analyst', '-', 200, 'ok'],
  ['GET /v1/forms', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/forms', 'observer', '-', 200, 'ok'],
  ['GET /v1/election', 'admin', '-', 200, 'ok'],
  ['GET /v1/election', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/election', 'analyst', '-', 200, 'ok'],
  ['GET /v1/election', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/election', 'observer', '-', 200, 'ok'],
  ['PUT /v1/election', 'admin', '-', 200, 'audit:election.set'],
  ['PUT /v1/election', 'coordinator', '-', 403, 'FORBIDDEN'],
  ['PUT /v1/election', 'analyst', '-', 403, 'FORBIDDEN'],
  ['PUT /v1/election', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['PUT /v1/election', 'observer', '-', 403, 'FORBIDDEN'],

  // Forms: everyone reads them; admins create, publish and retire.
  ...(['admin', 'coordinator', 'analyst', 'analyst13', 'observer'] as const).flatMap((caller): Row[] => [
    ['GET /v1/forms/{key}', caller, '-', 200, 'ok'],
    ['GET /v1/forms/{key}/versions/{version}', caller, '-', 200, 'ok'],
  ]),
  ['POST /v1/forms', 'admin', '-', 201, 'audit:form.created'],
  ['POST /v1/forms/{key}/versions', 'admin', '-', 201, 'audit:form.published'],
  ['POST /v1/forms/{key}/versions/{version}/retire', 'admin', '-', 200, 'audit:form.retired'],
  ...(['coordinator', 'analyst', 'analyst13', 'observer'] as const).flatMap((caller): Row[] => [
    ['POST /v1/forms', caller, '-', 403, 'FORBIDDEN'],
    ['POST /v1/forms/{key}/versions', caller, '-', 403, 'FORBIDDEN'],
    ['POST /v1/forms/{key}/versions/{version}/retire', caller, '-', 403, 'FORBIDDEN'],
  ]),

  // Reports: observers for their centres, coordinators in their region, admins anywhere; analysts never write.
  ['POST /v1/reports', 'admin', 'in', 201, 'audit:report.accepted'],
  ['POST /v1/reports', 'coordinator', 'in', 201, 'audit:report.accepted'],
  ['POST /v1/reports', 'coordinator', 'out', 422, 'REPORT_INVALID'],
  ['POST /v1/reports', 'analyst', '-', 403, 'FORBIDDEN'],
  ['POST /v1/reports', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['POST /v1/reports', 'observer', 'in', 201, 'audit:report.accepted'],
  ['POST /v1/reports', 'observer', 'out', 422, 'REPORT_INVALID'],
  ['POST /v1/reports/batch', 'admin', '-', 200, 'audit:report.accepted'],
  ['POST /v1/reports/batch', 'coordinator', '-', 200, 'audit:report.accepted'],
  ['POST /v1/reports/batch', 'analyst', '-', 403, 'FORBIDDEN'],
  ['POST /v1/reports/batch', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['POST /v1/reports/batch', 'observer', '-', 200, 'audit:report.accepted'],
  ['GET /v1/reports', 'admin', '-', 200, 'ok'],
  ['GET /v1/reports', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/reports', 'analyst', '-', 200, 'ok'],
  ['GET /v1/reports', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/reports', 'observer', '-', 200, 'ok'],
  ['GET /v1/reports/export', 'admin', '-', 200, 'ok'],
  ['GET /v1/reports/export', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/reports/export', 'observer', '-', 200, 'ok'],
  ['GET /v1/reports/{id}', 'admin', 'in', 200, 'ok'],
  ['GET /v1/reports/{id}', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['GET /v1/reports/{id}', 'coordinator', 'in', 200, 'ok'],
  ['GET /v1/reports/{id}', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/reports/{id}', 'analyst', 'in', 200, 'ok'],
  ['GET /v1/reports/{id}', 'analyst13', 'in', 200, 'ok'],
  ['GET /v1/reports/{id}', 'analyst13', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/reports/{id}', 'observer', 'self', 200, 'ok'],
  ['GET /v1/reports/{id}', 'observer', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/reports/{id}/revisions', 'admin', 'in', 200, 'ok'],
  ['GET /v1/reports/{id}/revisions', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/reports/{id}/revisions', 'analyst13', 'in', 200, 'ok'],
  ['GET /v1/reports/{id}/revisions', 'observer', 'self', 200, 'ok'],
  ['GET /v1/reports/{id}/revisions', 'observer', 'out', 404, 'NOT_FOUND'],
  ['POST /v1/reports/{id}/revisions', 'admin', 'in', 201, 'audit:report.revised'],
  ['POST /v1/reports/{id}/revisions', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['POST /v1/reports/{id}/revisions', 'coordinator', 'in', 201, 'audit:report.revised'],
  ['POST /v1/reports/{id}/revisions', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['POST /v1/reports/{id}/revisions', 'analyst', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/reports/{id}/revisions', 'analyst13', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/reports/{id}/revisions', 'observer', 'self', 201, 'audit:report.revised'],
  ['POST /v1/reports/{id}/revisions', 'observer', 'out', 404, 'NOT_FOUND'],
  ['POST /v1/reports/{id}/review', 'admin', 'in', 200, 'audit:report.reviewed'],
  ['POST /v1/reports/{id}/review', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['POST /v1/reports/{id}/review', 'coordinator', 'in', 200, 'audit:report.reviewed'],
  ['POST /v1/reports/{id}/review', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['POST /v1/reports/{id}/review', 'analyst', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/reports/{id}/review', 'analyst13', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/reports/{id}/review', 'observer', 'self', 403, 'FORBIDDEN'],

  // Summaries: admins, coordinators and analysts in their scope; the national one needs a national scope.
  ['GET /v1/analysis', 'admin', '-', 200, 'ok'],
  ['GET /v1/analysis', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/analysis', 'analyst', '-', 200, 'ok'],
  ['GET /v1/analysis', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/analysis', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/summaries.geojson', 'admin', '-', 200, 'ok'],
  ['GET /v1/summaries.geojson', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/summaries.geojson', 'analyst', '-', 200, 'ok'],
  ['GET /v1/summaries.geojson', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/summaries.geojson', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/centres.geojson', 'admin', '-', 200, 'ok'],
  ['GET /v1/centres.geojson', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/centres.geojson', 'analyst', '-', 200, 'ok'],
  ['GET /v1/centres.geojson', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/centres.geojson', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/analysis/national', 'admin', '-', 200, 'ok'],
  ['GET /v1/analysis/national', 'analyst', '-', 200, 'ok'],
  ['GET /v1/analysis/national', 'coordinator', '-', 403, 'FORBIDDEN'],
  ['GET /v1/analysis/national', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['GET /v1/analysis/national', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/summaries', 'admin', '-', 200, 'ok'],
  ['GET /v1/summaries', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/summaries', 'analyst', '-', 200, 'ok'],
  ['GET /v1/summaries', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/summaries', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/summaries/national', 'admin', '-', 200, 'ok'],
  ['GET /v1/summaries/national', 'analyst', '-', 200, 'ok'],
  ['GET /v1/summaries/national', 'coordinator', '-', 403, 'FORBIDDEN'],
  ['GET /v1/summaries/national', 'analyst13', '-', 403, 'FORBIDDEN'],
  ['GET /v1/summaries/national', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/summaries/stream', 'admin', '-', 200, 'ok'],
  ['GET /v1/summaries/stream', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/summaries/stream', 'analyst', '-', 200, 'ok'],
  ['GET /v1/summaries/stream', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/summaries/stream', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/summaries/timeline', 'admin', '-', 200, 'ok'],
  ['GET /v1/summaries/timeline', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/summaries/timeline', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/summaries/timeline', 'observer', '-', 403, 'FORBIDDEN'],
  ['GET /v1/summaries/missing', 'admin', '-', 200, 'ok'],
  ['GET /v1/summaries/missing', 'coordinator', '-', 200, 'ok'],
  ['GET /v1/summaries/missing', 'analyst', '-', 200, 'ok'],
  ['GET /v1/summaries/missing', 'analyst13', '-', 200, 'ok'],
  ['GET /v1/summaries/missing', 'observer', '-', 403, 'FORBIDDEN'],

  // Photos: attached by the report's author or a coordinator or admin in scope; read like their report.
  ['POST /v1/reports/{id}/photos', 'admin', 'in', 201, 'audit:photo.attached'],
  ['POST /v1/reports/{id}/photos', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['POST /v1/reports/{id}/photos', 'coordinator', 'in', 201, 'audit:photo.attached'],
  ['POST /v1/reports/{id}/photos', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['POST /v1/reports/{id}/photos', 'analyst', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/reports/{id}/photos', 'analyst13', 'in', 403, 'FORBIDDEN'],
  ['POST /v1/reports/{id}/photos', 'observer', 'self', 201, 'audit:photo.attached'],
  ['POST /v1/reports/{id}/photos', 'observer', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/photos/{id}', 'admin', 'in', 200, 'ok'],
  ['GET /v1/photos/{id}', 'admin', 'unknown', 404, 'NOT_FOUND'],
  ['GET /v1/photos/{id}', 'coordinator', 'in', 200, 'ok'],
  ['GET /v1/photos/{id}', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/photos/{id}', 'analyst', 'in', 200, 'ok'],
  ['GET /v1/photos/{id}', 'analyst13', 'in', 200, 'ok'],
  ['GET /v1/photos/{id}', 'analyst13', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/photos/{id}', 'observer', 'self', 200, 'ok'],
  ['GET /v1/photos/{id}', 'observer', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/photos/{id}/content', 'admin', 'in', 200, 'ok'],
  ['GET /v1/photos/{id}/content', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/photos/{id}/content', 'analyst13', 'in', 200, 'ok'],
  ['GET /v1/photos/{id}/content', 'observer', 'self', 200, 'ok'],
  ['GET /v1/photos/{id}/content', 'observer', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/photos/{id}/thumbnail', 'admin', 'in', 200, 'ok'],
  ['GET /v1/photos/{id}/thumbnail', 'coordinator', 'out', 404, 'NOT_FOUND'],
  ['GET /v1/photos/{id}/thumbnail', 'observer', 'self', 200, 'ok'],
  ['GET /v1/photos/{id}/thumbnail', 'observer', 'out', 404, 'NOT_FOUND'],
];

/** The routes of the API, one request each; every one must refuse a caller without a valid token. */
const everyRoute: Route[] = [
  'GET /v1/analysis',
  'GET /v1/analysis/national',
  'GET /v1/summaries.geojson',
  'GET /v1/centres.geojson',
  'GET /v1/log/checkpoint',
  'GET /v1/log/key',
  'GET /v1/log/proof/inclusion',
  'GET /v1/log/proof/consistency',
  'GET /v1/log/entries',
  'GET /v1/log/tile/{*}',
  'GET /v1/log/audit',
  'POST /v1/registry/import',
  'GET /v1/regions',
  'GET /v1/regions/{code}',
  'GET /v1/centres',
  'GET /v1/centres/{code}',
  'POST /v1/users',
  'GET /v1/users',
  'GET /v1/users/{id}',
  'PATCH /v1/users/{id}',
  'POST /v1/users/{id}/tokens',
  'GET /v1/users/{id}/tokens',
  'DELETE /v1/tokens/{id}',
  'PUT /v1/users/{id}/assignments',
  'GET /v1/me',
  'POST /v1/users/import',
  'GET /v1/audit',
  'GET /v1/forms',
  'GET /v1/forms/{key}',
  'GET /v1/forms/{key}/versions/{version}',
  'POST /v1/forms',
  'POST /v1/forms/{key}/versions',
  'POST /v1/forms/{key}/versions/{version}/retire',
  'GET /v1/election',
  'PUT /v1/election',
  'POST /v1/reports',
  'POST /v1/reports/batch',
  'GET /v1/reports',
  'GET /v1/reports/export',
  'GET /v1/reports/{id}',
  'GET /v1/reports/{id}/revisions',
  'POST /v1/reports/{id}/revisions',
  'POST /v1/reports/{id}/review',
  'POST /v1/reports/{id}/photos',
  'GET /v1/photos/{id}',
  'GET /v1/photos/{id}/content',
  'GET /v1/photos/{id}/thumbnail',
  'GET /v1/summaries',
  'GET /v1/summaries/stream',
  'GET /v1/summaries/national',
  'GET /v1/summaries/timeline',
  'GET /v1/summaries/missing',
];

/** Credentials that are present but no good: each answers 401 AUTH_INVALID_TOKEN. */
const badCredentials: Record<string, () => string> = {
  'a bare Bearer': () => 'Bearer',
  'a malformed bearer (space inside)': () => 'Bearer tg_abc def',
  'another scheme (Basic)': () => 'Basic YWRtaW46YWRtaW4=',
  'an unknown token': () => `Bearer tg_${randomBytes(32).toString('base64url')}`,
  'an expired token': () => `Bearer ${world.expiredToken}`,
  'a revoked token': () => `Bearer ${world.revokedToken}`,
  "a deactivated user's token": () => `Bearer ${world.deactivated.token}`,
};

const auditRowsOf = async (requestId: string) =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entries WHERE request_id = $1', [requestId]))[0]!
    .n;

function expectProblem(response: LightMyRequestResponse, status: number, code: ProblemCode): Json {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const requestId = response.headers['x-request-id'];
  expect(requestId).toEqual(expect.any(String));
  const problem = response.json();
  expect(problem).toMatchObject({ status, code, requestId });
  return problem;
}

/** What a client can tell from a 404: everything but the request id, with the looked-up id blanked. */
function observable(response: LightMyRequestResponse, id: string) {
  const { requestId: _requestId, ...body } = JSON.parse(response.body.replaceAll(id, '<id>')) as Json;
  const {
    date: _date,
    'x-request-id': _id,
    'x-ratelimit-remaining': _remaining,
    'x-ratelimit-reset': _reset,
    ...headers
  } = response.headers;
  return { status: response.statusCode, headers, body };
}

/** The audit trail, read as an admin through GET /v1/audit, must hold `action` by `actor` under `requestId`. */
async function expectAudited(actor: TestActor, action: string, requestId: string) {
  const response = await app.inject({ url: `/v1/audit?actor=${actor.id}&limit=1000`, headers: admin.headers });
  expect(response.statusCode, response.body).toBe(200);
  const entries = (response.json().items as Json[]).filter((entry) => entry.requestId === requestId);
  expect(
    entries.map((entry) => entry.action),
    `audit entries of request ${requestId}`,
  ).toContain(action);
  for (const entry of entries) expect(entry).toMatchObject({ actorId: actor.id, actorRole: actor.role, requestId });
}

beforeAll(async () => {
  const imported = await asAdmin({ method: 'POST', url: '/v1/registry/import', csv: sample });
  expect(imported.statusCode, imported.body).toBe(200);
  await setElection(app, admin, election);
  world.coordinator = await createActor(app, 'coordinator', { scopeRegion: '01', name: 'Coordinator 01' });
  world.observer = await createActor(app, 'observer', { scopeRegion: '0101', name: 'Observer 0101' });
  world.other = await createActor(app, 'observer', { scopeRegion: '13', name: 'Observer 13' });
  world.analyst = await createActor(app, 'analyst', { name: 'National analyst' });
  world.analyst13 = await createActor(app, 'analyst', { scopeRegion: '13', name: 'Analyst 13' });
  for (const [observer, centre] of [
    [world.observer, '010101001'],
    [world.other, '130101001'],
  ] as const) {
    const response = await asAdmin({
      method: 'PUT',
      url: `/v1/users/${observer.id}/assignments`,
      payload: { centres: [centre] },
    });
    expect(response.statusCode, response.body).toBe(200);
  }
  world.reportIn = await freshReport('in');
  world.reportOut = await freshReport('out');
  for (const [key, report, author] of [
    ['photoIn', world.reportIn, world.observer],
    ['photoOut', world.reportOut, world.other],
  ] as const) {
    const response = await send(
      { method: 'POST', url: `/v1/reports/${report}/photos`, form: await photoForm() },
      author.headers,
    );
    expect(response.statusCode, response.body).toBe(201);
    world[key] = response.json().id;
  }

  // Tokens that are no good any more; the revoked one and the deactivated user's are checked to work first.
  const works = async (secret: string) =>
    expect((await app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${secret}` } })).statusCode).toBe(200);
  // The expired token is never used before it expires: a lookup cache, if any, cannot have seen it. It is a
  // live token of an active user until its expiry moves to the past.
  const shortLived = await freshObserver('0101');
  const issued = await issueToken(shortLived.id, {
    name: 'short-lived',
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  });
  world.expiredToken = issued.token;
  const expired = await db.query(
    "UPDATE api_tokens t SET expires_at = now() - interval '1 minute' FROM users u WHERE t.id = $1 AND u.id = t.user_id AND u.active AND t.revoked_at IS NULL AND t.expires_at > now() RETURNING t.id",
    [issued.id],
  );
  expect(expired).toEqual([{ id: issued.id }]);
  const holder = await freshObserver('0101');
  const revoked = await issueToken(holder.id);
  world.revokedToken = revoked.token;
  await works(world.revokedToken);
  expect((await asAdmin({ method: 'DELETE', url: `/v1/tokens/${revoked.id}` })).statusCode).toBe(204);
  world.deactivated = await freshObserver('0101');
  await works(world.deactivated.token);
  expect(
    (await asAdmin({ method: 'PATCH', url: `/v1/users/${world.deactivated.id}`, payload: { active: false } }))
      .statusCode,
  ).toBe(200);
});

describe('authorization matrix', () => {
  it('covers every route of the API (from the OpenAPI document), and only public ones lie outside /v1', () => {
    const paths = (app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
    const operations = Object.entries(paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.filter((operation) => operation.includes(' /v1/')).sort()).toEqual([...everyRoute].sort());
    expect(operations.filter((operation) => !operation.includes(' /v1/')).sort()).toEqual([
      'GET /healthz',
      'GET /readyz',
    ]);
  });

  it.each(matrix)('%s as %s (%s) → %i %s', async (route, caller, scope, status, expected) => {
    const actor = actorOf(caller);
    const call = await build[route](caller, scope);
    const response = await send(call, actor.headers);
    const requestId = String(response.headers['x-request-id']);
    if (status >= 400) {
      expect(expected, 'the table pairs an error status with a problem code').toMatch(/^[A-Z_]+$/);
      const code = expected as ProblemCode;
      const problem = expectProblem(response, status, code);
      call.verifyProblem?.[code]?.(problem);
      // A refused write writes nothing, not even an audit entry.
      expect(await auditRowsOf(requestId)).toBe(0);
      await call.unchanged?.();
      if (code === 'NOT_FOUND' && call.hiddenId) {
        // Out of scope looks exactly like nothing there at all.
        const random = randomUUID();
        const twin = await send({ ...call, url: call.url.replace(call.hiddenId, random) }, actor.headers);
        expect(observable(response, call.hiddenId)).toEqual(observable(twin, random));
      }
      return;
    }
    expect(response.statusCode, response.body).toBe(status);
    const json = /^application\/(problem\+)?json/.test(String(response.headers['content-type']));
    await call.verify?.(status === 204 ? {} : json ? response.json() : { text: response.body });
    if (call.method === 'GET') {
      expect(expected).toBe('ok');
      expect(await auditRowsOf(requestId)).toBe(0);
    } else {
      expect(expected, 'every successful write names its audit action').toMatch(/^audit:/);
      await expectAudited(actor, expected.slice('audit:'.length), requestId);
    }
  });
});

describe('without a valid token', () => {
  it.each(everyRoute)('%s without a token → 401 AUTH_REQUIRED with a Bearer challenge', async (route) => {
    const call = await build[route](null, '-');
    const response = await send(call, {});
    expectProblem(response, 401, 'AUTH_REQUIRED');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(response.headers['www-authenticate']).not.toContain('error=');
    expect(await auditRowsOf(String(response.headers['x-request-id']))).toBe(0);
  });

  const rows = everyRoute.flatMap((route) =>
    Object.keys(badCredentials).map((credential) => [route, credential] as const),
  );
  it.each(rows)('%s with %s → 401 AUTH_INVALID_TOKEN', async (route, credential) => {
    const call = await build[route](null, '-');
    const response = await send(call, { authorization: badCredentials[credential]!() });
    expectProblem(response, 401, 'AUTH_INVALID_TOKEN');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(await auditRowsOf(String(response.headers['x-request-id']))).toBe(0);
  });
});

describe('deactivation', () => {
  it('makes every token of the user fail at once, revoked for good: reactivation needs new tokens', async () => {
    const asCoordinator = (call: Call) => send(call, world.coordinator.headers);
    const created = await asCoordinator({
      method: 'POST',
      url: '/v1/users',
      payload: { name: `Two phones ${unique()}`, role: 'observer' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const user = created.json();
    const first = await asCoordinator({
      method: 'POST',
      url: `/v1/users/${user.id}/tokens`,
      payload: { name: 'phone' },
    });
    expect(first.statusCode).toBe(201);
    const second = await issueToken(user.id, { name: 'tablet' });
    const tokens = [first.json().token as string, second.token];
    const me = (token: string) => app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${token}` } });
    for (const token of tokens) expect((await me(token)).statusCode).toBe(200);

    const deactivated = await asCoordinator({
      method: 'PATCH',
      url: `/v1/users/${user.id}`,
      payload: { active: false },
    });
    expect(deactivated.statusCode, deactivated.body).toBe(200);
    expect(deactivated.json()).toMatchObject({ active: false, deactivatedAt: expect.any(String) });
    await expectAudited(world.coordinator, 'user.deactivated', String(deactivated.headers['x-request-id']));
    for (const token of tokens) {
      const response = await me(token);
      expectProblem(response, 401, 'AUTH_INVALID_TOKEN');
      expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
    }
    // Deactivation revokes the tokens.
    const listed = await asAdmin({ method: 'GET', url: `/v1/users/${user.id}/tokens` });
    expect(listed.json().items.map((token: Json) => typeof token.revokedAt)).toEqual(['string', 'string']);

    const reactivated = await asAdmin({ method: 'PATCH', url: `/v1/users/${user.id}`, payload: { active: true } });
    expect(reactivated.statusCode, reactivated.body).toBe(200);
    expect(reactivated.json()).toMatchObject({ active: true, deactivatedAt: null });
    await expectAudited(admin, 'user.reactivated', String(reactivated.headers['x-request-id']));
    for (const token of tokens) expectProblem(await me(token), 401, 'AUTH_INVALID_TOKEN');
    expect((await me((await issueToken(user.id, { name: 'new phone' })).token)).statusCode).toBe(200);
  });
});

// Last: these change who the admins are.
describe('the last active admin', () => {
  it('cannot be deactivated nor lose the admin role', async () => {
    expect(await db.query("SELECT id FROM users WHERE role = 'admin' AND active")).toEqual([{ id: admin.id }]);
    for (const payload of [{ active: false }, { role: 'analyst' }]) {
      const response = await asAdmin({ method: 'PATCH', url: `/v1/users/${admin.id}`, payload });
      expectProblem(response, 409, 'USER_LAST_ADMIN');
      expect(await auditRowsOf(String(response.headers['x-request-id']))).toBe(0);
    }
    const me = await asAdmin({ method: 'GET', url: '/v1/me' });
    expect(me.json()).toMatchObject({ id: admin.id, role: 'admin', active: true });
  });

  it('can be deactivated by another admin, who then is the last one', async () => {
    const second = await createActor(app, 'admin', { name: 'Second admin' });
    const asSecond = (call: Call) => send(call, second.headers);
    const deactivated = await asSecond({ method: 'PATCH', url: `/v1/users/${admin.id}`, payload: { active: false } });
    expect(deactivated.statusCode, deactivated.body).toBe(200);
    expectProblem(await asAdmin({ method: 'GET', url: '/v1/me' }), 401, 'AUTH_INVALID_TOKEN');
    expectProblem(
      await asSecond({ method: 'PATCH', url: `/v1/users/${second.id}`, payload: { active: false } }),
      409,
      'USER_LAST_ADMIN',
    );
    const restored = await asSecond({ method: 'PATCH', url: `/v1/users/${admin.id}`, payload: { active: true } });
    expect(restored.statusCode, restored.body).toBe(200);
    // Its old token stays revoked; a new one works.
    expectProblem(await asAdmin({ method: 'GET', url: '/v1/me' }), 401, 'AUTH_INVALID_TOKEN');
    const fresh = await asSecond({
      method: 'POST',
      url: `/v1/users/${admin.id}/tokens`,
      payload: { name: 'restored' },
    });
    expect(
      (await app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${fresh.json().token}` } })).statusCode,
    ).toBe(200);
  });
});

// A made-up token must not open fresh buckets without bound: a client sending a new random token each time
// would never be limited (token guessing and database lookups without bound). New well-formed tokens get a
// bucket of their own only until their IP has failed RATE_LIMIT_PER_IP lookups in the window.
describe('the per-IP rate limit of callers without a valid token', () => {
  const anonymous = (authorization?: string) =>
    limited.app.inject({ url: '/v1/regions', headers: authorization ? { authorization } : {} });

  it('stops a caller that sends no token', async () => {
    for (let i = 0; i < 3; i += 1) expectProblem(await anonymous(), 401, 'AUTH_REQUIRED');
    const response = await anonymous();
    expectProblem(response, 429, 'RATE_LIMITED');
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('stops a caller that sends a made-up token each time', async () => {
    const guess = () =>
      limited.app.inject({
        url: '/v1/regions',
        remoteAddress: '192.0.2.77',
        headers: { authorization: `Bearer tg_${randomBytes(32).toString('base64url')}` },
      });
    for (let i = 0; i < 6; i += 1) expectProblem(await guess(), 401, 'AUTH_INVALID_TOKEN');
    expectProblem(await guess(), 429, 'RATE_LIMITED');
  });
});
