import { beforeAll, describe, expect, it } from 'vitest';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { registrySample } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const sample = registrySample;
const centres = ['010101001', '010102001', '010102002', '130101001', '130201001'];
let coordinator: TestActor;

const header = 'external_id,name,phone,email,scope_region,centres';
const observers = (n: number, rename = '') =>
  [
    header,
    ...Array.from(
      { length: n },
      (_, i) =>
        `V-${10_000_000 + i},Observer ${i}${rename},+58 412 ${String(1_000_000 + i)},obs${i}@example.org,,${centres[i % 5]};${centres[(i + 1) % 5]}`,
    ),
  ].join('\n');

const importAs = (actor: TestActor, body: string) =>
  as(app, actor)({ method: 'POST', url: '/v1/users/import', headers: { 'content-type': 'text/csv' }, body });

async function counts() {
  const [row] =
    await db.query(`SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM api_tokens) AS tokens,
    (SELECT count(*)::int FROM assignments) AS assignments, (SELECT count(*)::int FROM audit_entries) AS audit`);
  return row;
}

beforeAll(async () => {
  const response = await as(
    app,
    admin,
  )({ method: 'POST', url: '/v1/registry/import', headers: { 'content-type': 'text/csv' }, body: sample });
  expect(response.statusCode).toBe(200);
  coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
});

describe('POST /v1/users/import', () => {
  let firstTokens: string[] = [];

  it('creates 1,000 observers with their centres and returns each new token once', async () => {
    const response = await importAs(admin, observers(1000));
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toMatchObject({ rows: 1000, created: 1000, updated: 0, unchanged: 0 });
    firstTokens = body.users.map((user: { token: string }) => user.token);
    expect(new Set(firstTokens).size).toBe(1000);
    expect(firstTokens.every((token) => /^tg_[A-Za-z0-9_-]{43}$/.test(token))).toBe(true);
    const [row] = await db.query(
      "SELECT count(*)::int AS n FROM assignments a JOIN users u ON u.id = a.user_id WHERE u.role = 'observer'",
    );
    expect(row).toEqual({ n: 2000 });
    // The tokens work and name their observer.
    const me = await app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${firstTokens[7]}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ externalId: 'V-10000007', role: 'observer', assignmentCount: 2 });
    expect(me.json().assignments.map((a: { centreCode: string }) => a.centreCode)).toEqual([centres[2], centres[3]]);
  });

  it('changes nothing and issues no token when the same file is imported again', async () => {
    const before = await counts();
    const response = await importAs(admin, observers(1000));
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ rows: 1000, created: 0, updated: 0, unchanged: 1000 });
    expect(
      body.users.every(
        (user: { token: string | null; status: string }) => user.token === null && user.status === 'unchanged',
      ),
    ).toBe(true);
    const after = await counts();
    // Only the summary audit entry of the import itself is new.
    expect(after).toEqual({ ...before, audit: (before!.audit as number) + 1 });
  });

  it('updates changed rows and keeps their tokens', async () => {
    const changed = observers(1000).split('\n');
    changed[1] = changed[1]!.replace('Observer 0', 'Observadora 0');
    changed[2] = changed[2]!.replace(/,[^,]*$/, ',130201001');
    const response = await importAs(admin, changed.join('\n'));
    expect(response.json()).toMatchObject({ created: 0, updated: 2, unchanged: 998 });
    const me = await app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${firstTokens[1]}` } });
    expect(me.json().assignments.map((a: { centreCode: string }) => a.centreCode)).toEqual(['130201001']);
  });

  describe('rejects a bad file whole, writing nothing', () => {
    const cases: [string, string, RegExp][] = [
      ['a missing column', 'external_id,phone\nV-1,123456', /Missing column: name/],
      ['an unknown centre', `${header}\nV-9,Ana,,,,999999999`, /Centre 999999999 is not in the registry/],
      ['an unknown region', `${header}\nV-9,Ana,,,77,`, /Region 77 is not in the registry/],
      ['a repeated external id', `${header}\nV-9,Ana,,,,\nV-9,Ana,,,,`, /external_id V-9 repeats line 2/],
      ['a bad phone', `${header}\nV-9,Ana,call me,,,`, /not a phone number/],
      ['a bad email', `${header}\nV-9,Ana,,ana@,,`, /not an email address/],
      ["a centre outside the row's region", `${header}\nV-9,Ana,,,13,010101001`, /outside region 13/],
      ['malformed CSV', `${header}\n"V-9,Ana`, /not valid CSV/],
    ];
    it.each(cases)('%s', async (_name, body, message) => {
      const before = await counts();
      const response = await importAs(admin, `${body}\n`);
      expect(response.statusCode).toBe(422);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json().code).toBe('USERS_CSV_INVALID');
      expect(response.json().detail).toMatch(message);
      expect(await counts()).toEqual(before);
    });

    it('an oversized body › 413', async () => {
      const small = await setupTestApp({ env: { USER_IMPORT_MAX_BYTES: '2048' } });
      const response = await as(
        small.app,
        small.admin,
      )({ method: 'POST', url: '/v1/users/import', headers: { 'content-type': 'text/csv' }, body: observers(200) });
      expect(response.statusCode).toBe(413);
      expect(response.json().code).toBe('PAYLOAD_TOO_LARGE');
      expect(await small.db.query("SELECT 1 FROM users WHERE role = 'observer'")).toHaveLength(0);
    });
  });

  describe('as a coordinator', () => {
    it("imports observers into the coordinator's region by default", async () => {
      const response = await importAs(coordinator, `${header}\nC-1,Carla,,,,010101001\n`);
      expect(response.statusCode).toBe(200);
      const [user] = await db.query("SELECT scope_region_code FROM users WHERE external_id = 'C-1'");
      expect(user).toEqual({ scope_region_code: '01' });
    });

    it('rejects centres and regions outside its region, and users it cannot manage', async () => {
      const before = await counts();
      for (const [body, message] of [
        [`${header}\nC-2,Carlos,,,,130101001`, /Centre 130101001 is outside region 01/],
        [`${header}\nC-2,Carlos,,,13,`, /Region 13 is outside your scope/],
        [`${header}\nV-10000000,Taken,,,,`, /external_id V-10000000 cannot be used; choose another/],
      ] as const) {
        const response = await importAs(coordinator, body);
        expect(response.statusCode).toBe(422);
        expect(response.json().detail).toMatch(message);
      }
      expect(await counts()).toEqual(before);
    });
  });
});
