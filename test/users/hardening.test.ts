// Issue 10: the observers file never rewrites other roles (even racing a role change), a taken externalId
// tells a coordinator nothing about users outside their scope, and deactivation ends tokens for good.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { seedRegistry } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const header = 'external_id,name,phone,email,scope_region,centres';
let coordinator: TestActor;

const importAs = (actor: TestActor, body: string) =>
  as(app, actor)({ method: 'POST', url: '/v1/users/import', headers: { 'content-type': 'text/csv' }, body });

async function createUser(body: Record<string, unknown>): Promise<{ id: string }> {
  const response = await as(app, admin)({ method: 'POST', url: '/v1/users', payload: body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

async function counts() {
  const [row] =
    await db.query(`SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM api_tokens) AS tokens,
    (SELECT count(*)::int FROM assignments) AS assignments, (SELECT count(*)::int FROM audit_entries) AS audit`);
  return row;
}

beforeAll(async () => {
  await seedRegistry(app, admin);
  coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
});

describe('POST /v1/users/import › never changes a non-observer', () => {
  it('422 USERS_CSV_INVALID when a row names an existing coordinator, analyst or admin; nothing written', async () => {
    const holders = {
      coordinator: await createUser({
        name: 'Coord Sucre',
        role: 'coordinator',
        scopeRegion: '0101',
        externalId: 'H-COORD',
      }),
      analyst: await createUser({ name: 'Analyst', role: 'analyst', externalId: 'H-ANALYST' }),
      admin: await createUser({ name: 'Second admin', role: 'admin', externalId: 'H-ADMIN' }),
    };
    const before = await counts();
    const response = await importAs(
      admin,
      [
        header,
        'N-1,New observer,,,,',
        'H-COORD,Taken over,,,,',
        'H-ANALYST,Taken over,,,,',
        'H-ADMIN,Taken over,,,,',
      ].join('\n'),
    );
    expect(response.statusCode, response.body).toBe(422);
    const body = response.json();
    expect(body.code).toBe('USERS_CSV_INVALID');
    expect(body.errors).toEqual([
      {
        in: 'body',
        line: 3,
        path: 'external_id',
        message: 'external_id H-COORD belongs to a coordinator; the import creates and updates observers only',
      },
      {
        in: 'body',
        line: 4,
        path: 'external_id',
        message: 'external_id H-ANALYST belongs to an analyst; the import creates and updates observers only',
      },
      {
        in: 'body',
        line: 5,
        path: 'external_id',
        message: 'external_id H-ADMIN belongs to an admin; the import creates and updates observers only',
      },
    ]);
    expect(await counts()).toEqual(before);
    const rows = await db.query(
      'SELECT role::text AS role, name, scope_region_code AS scope FROM users WHERE id = ANY($1::uuid[]) ORDER BY external_id',
      [Object.values(holders).map((holder) => holder.id)],
    );
    expect(rows).toEqual([
      { role: 'admin', name: 'Second admin', scope: null },
      { role: 'analyst', name: 'Analyst', scope: null },
      { role: 'coordinator', name: 'Coord Sucre', scope: '0101' },
    ]);
  });

  it('422 for a coordinator importing a coordinator of its own subtree (whom it can see)', async () => {
    const response = await importAs(coordinator, `${header}\nH-COORD,Taken over,,,,`);
    expect(response.statusCode).toBe(422);
    expect(response.json().errors[0].message).toMatch(/belongs to a coordinator/);
  });

  it("422 when the user becomes a non-observer while the import runs (the check is in the import's transaction)", async () => {
    const observer = await createUser({
      name: 'Racing observer',
      role: 'observer',
      scopeRegion: '0101',
      externalId: 'R-1',
    });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // A role change that takes no application lock, committed while the import waits for the row.
      await client.query('BEGIN');
      await client.query("UPDATE users SET role = 'analyst', scope_region_code = NULL WHERE id = $1", [observer.id]);
      const pending = importAs(admin, `${header}\nR-1,Renamed by import,,,0101,`);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const [row] = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        if (row!.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(Date.now()).toBeLessThan(deadline);
      await client.query('COMMIT');
      const response = await pending;
      expect(response.statusCode, response.body).toBe(422);
      expect(response.json().errors[0]).toMatchObject({
        line: 2,
        path: 'external_id',
        message: expect.stringMatching(/belongs to an analyst/),
      });
    } finally {
      await client.end();
    }
    const [row] = await db.query(
      'SELECT role::text AS role, name, scope_region_code AS scope FROM users WHERE id = $1',
      [observer.id],
    );
    expect(row).toEqual({ role: 'analyst', name: 'Racing observer', scope: null });
  });
});

describe('USER_EXTERNAL_ID_TAKEN › neutral to coordinators', () => {
  it("409 with the same neutral detail whether or not the holder is in the coordinator's scope; admins are told who holds it", async () => {
    const outside = await createUser({
      name: 'Observer in 13',
      role: 'observer',
      scopeRegion: '13',
      externalId: 'X-OUT',
    });
    await createUser({ name: 'Observer in 01', role: 'observer', scopeRegion: '0101', externalId: 'X-IN' });
    const details = [];
    for (const externalId of ['X-OUT', 'X-IN']) {
      const response = await as(
        app,
        coordinator,
      )({ method: 'POST', url: '/v1/users', payload: { name: 'N', role: 'observer', externalId } });
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('USER_EXTERNAL_ID_TAKEN');
      details.push(response.json().detail);
    }
    expect(details).toEqual([
      'This externalId cannot be used; choose another',
      'This externalId cannot be used; choose another',
    ]);
    const own = (
      await as(app, coordinator)({ method: 'POST', url: '/v1/users', payload: { name: 'Own', role: 'observer' } })
    ).json();
    const patched = await as(
      app,
      coordinator,
    )({ method: 'PATCH', url: `/v1/users/${own.id}`, payload: { externalId: 'X-OUT' } });
    expect(patched.statusCode).toBe(409);
    expect(patched.json()).toMatchObject({
      code: 'USER_EXTERNAL_ID_TAKEN',
      detail: 'This externalId cannot be used; choose another',
    });
    expect(JSON.stringify(patched.json())).not.toContain(outside.id);
    // The import says no more than that either.
    const imported = await importAs(coordinator, `${header}\nX-OUT,Someone,,,,`);
    expect(imported.json().errors[0].message).toBe('external_id X-OUT cannot be used; choose another');
    // Admins see every user anyway: they are told which one.
    const asAdmin = await as(
      app,
      admin,
    )({ method: 'POST', url: '/v1/users', payload: { name: 'N', role: 'observer', externalId: 'X-OUT' } });
    expect(asAdmin.statusCode).toBe(409);
    expect(asAdmin.json()).toMatchObject({
      code: 'USER_EXTERNAL_ID_TAKEN',
      detail: `User ${outside.id} already has externalId X-OUT`,
    });
  });
});

describe('PATCH /v1/users/{id} › deactivation ends tokens', () => {
  it('revokes every token of the user (audited, same transaction); reactivation does not revive them', async () => {
    const user = await createUser({ name: 'Leaving observer', role: 'observer', scopeRegion: '0101' });
    const tokens: { id: string; token: string }[] = [];
    for (const name of ['phone', 'tablet']) {
      const response = await as(app, admin)({ method: 'POST', url: `/v1/users/${user.id}/tokens`, payload: { name } });
      expect(response.statusCode).toBe(201);
      tokens.push(response.json());
    }
    const me = (token: string) => app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${token}` } });
    for (const token of tokens) expect((await me(token.token)).statusCode).toBe(200);

    const off = await as(app, admin)({ method: 'PATCH', url: `/v1/users/${user.id}`, payload: { active: false } });
    expect(off.statusCode).toBe(200);
    const on = await as(app, admin)({ method: 'PATCH', url: `/v1/users/${user.id}`, payload: { active: true } });
    expect(on.statusCode).toBe(200);
    expect(on.json().active).toBe(true);
    for (const token of tokens) {
      const response = await me(token.token);
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('AUTH_INVALID_TOKEN');
    }
    const listed = (await as(app, admin)(`/v1/users/${user.id}/tokens`)).json().items;
    expect(listed.map((token: { revokedAt: string | null }) => token.revokedAt !== null)).toEqual([true, true]);
    const audit = await db.query<{
      action: string;
      entity_id: string;
      details: Record<string, unknown>;
      request_id: string;
    }>(
      "SELECT action, entity_id, details, request_id FROM audit_entries WHERE action IN ('token.revoked', 'user.deactivated') AND (entity_id = $1 OR details->>'userId' = $1) ORDER BY id",
      [user.id],
    );
    expect(audit.map((entry) => entry.action)).toEqual(['user.deactivated', 'token.revoked', 'token.revoked']);
    expect(
      audit
        .slice(1)
        .map((entry) => entry.entity_id)
        .sort(),
    ).toEqual(tokens.map((token) => token.id).sort());
    expect(audit[1]!.details).toMatchObject({ userId: user.id, via: 'user.deactivated' });
    expect(new Set(audit.map((entry) => entry.request_id)).size).toBe(1); // one request, one transaction
    // A new token works.
    const fresh = await as(
      app,
      admin,
    )({ method: 'POST', url: `/v1/users/${user.id}/tokens`, payload: { name: 'new phone' } });
    expect((await me(fresh.json().token)).statusCode).toBe(200);
  });
});
