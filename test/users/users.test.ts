import { beforeAll, describe, expect, it } from 'vitest';
import { createUsersService } from '../../src/features/users/users.service.js';
import { systemContext } from '../../src/infra/auth/actor.js';
import { hashToken } from '../../src/infra/auth/tokens.js';
import { as, createActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { seedRegistry } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const asAdmin = as(app, admin);
const post = (url: string, payload: unknown) => asAdmin({ method: 'POST', url, payload: payload as object });

beforeAll(async () => {
  await seedRegistry(app, admin);
});

describe('POST /v1/users', () => {
  it('creates an observer with centres, audited with the request id', async () => {
    const response = await asAdmin({
      method: 'POST',
      url: '/v1/users',
      headers: { 'x-request-id': 'create-obs-1' },
      payload: {
        name: 'Ana Pérez',
        role: 'observer',
        scopeRegion: '0101',
        phone: '+58 412 5550101',
        externalId: 'V-1',
        centres: ['010101001', '010102001'],
      },
    });
    expect(response.statusCode).toBe(201);
    const user = response.json();
    expect(user).toMatchObject({
      name: 'Ana Pérez',
      role: 'observer',
      scopeRegion: '0101',
      externalId: 'V-1',
      active: true,
      assignmentCount: 2,
    });
    expect(user.assignments.map((a: { centreCode: string }) => a.centreCode)).toEqual(['010101001', '010102001']);
    const [entry] = await db.query(
      "SELECT actor_id, action, entity_id, request_id, ip FROM audit_entries WHERE request_id = 'create-obs-1'",
    );
    expect(entry).toEqual({
      actor_id: admin.id,
      action: 'user.created',
      entity_id: user.id,
      request_id: 'create-obs-1',
      ip: '127.0.0.1',
    });
  });

  it.each([
    ['an unknown role', { name: 'X', role: 'superuser' }, 400, 'VALIDATION_FAILED'],
    ['an unknown field', { name: 'X', role: 'observer', createdAt: '2024-01-01T00:00:00Z' }, 400, 'VALIDATION_FAILED'],
    [
      'an id chosen by the client',
      { id: '00000000-0000-4000-8000-000000000000', name: 'X', role: 'observer' },
      400,
      'VALIDATION_FAILED',
    ],
    ['a coordinator without a region', { name: 'X', role: 'coordinator' }, 400, 'VALIDATION_FAILED'],
    ['an admin with a region', { name: 'X', role: 'admin', scopeRegion: '01' }, 400, 'VALIDATION_FAILED'],
    ['an unknown region', { name: 'X', role: 'analyst', scopeRegion: '99' }, 422, 'REGION_UNKNOWN'],
    ['an unknown centre', { name: 'X', role: 'observer', centres: ['999999999'] }, 422, 'ASSIGNMENT_INVALID'],
    [
      "a centre outside the observer's region",
      { name: 'X', role: 'observer', scopeRegion: '13', centres: ['010101001'] },
      422,
      'ASSIGNMENT_INVALID',
    ],
    ['centres for an analyst', { name: 'X', role: 'analyst', centres: ['010101001'] }, 409, 'USER_NOT_OBSERVER'],
    ['a taken external id', { name: 'X', role: 'observer', externalId: 'V-1' }, 409, 'USER_EXTERNAL_ID_TAKEN'],
  ])('rejects %s, writing nothing', async (_name, payload, status, code) => {
    const [before] = await db.query(
      'SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM audit_entries) AS audit',
    );
    const response = await post('/v1/users', payload);
    expect(response.statusCode).toBe(status);
    expect(response.json().code).toBe(code);
    expect(
      await db.query(
        'SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM audit_entries) AS audit',
      ),
    ).toEqual([before]);
  });
});

describe('tokens', () => {
  it('issues a token shown once, stores only its hash, and lists it without the secret', async () => {
    const user = (await post('/v1/users', { name: 'Token holder', role: 'analyst' })).json();
    const response = await post(`/v1/users/${user.id}/tokens`, {
      name: 'phone',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(response.statusCode).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    const issued = response.json();
    expect(issued.token).toMatch(/^tg_[A-Za-z0-9_-]{43}$/);
    expect(issued.token.startsWith(issued.prefix)).toBe(true);
    // The database holds the sha256 only: no column anywhere contains the secret.
    const dump =
      JSON.stringify(await db.query('SELECT * FROM api_tokens')) +
      JSON.stringify(await db.query('SELECT * FROM audit_entries'));
    expect(dump).not.toContain(issued.token);
    expect(dump).toContain(hashToken(issued.token));
    const list = (await asAdmin(`/v1/users/${user.id}/tokens`)).json();
    expect(list.items).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(issued.token);
    expect(list.items[0]).toMatchObject({ id: issued.id, name: 'phone', prefix: issued.prefix, revokedAt: null });
  });

  it.each([
    ['in the past', new Date(Date.now() - 1000).toISOString()],
    ['more than 400 days ahead', new Date(Date.now() + 401 * 86_400_000).toISOString()],
  ])('rejects an expiry %s', async (_name, expiresAt) => {
    const user = (await post('/v1/users', { name: 'Expiry', role: 'analyst' })).json();
    const response = await post(`/v1/users/${user.id}/tokens`, { expiresAt });
    expect(response.statusCode).toBe(422);
    expect(response.json().code).toBe('TOKEN_EXPIRY_INVALID');
  });

  it('stops a revoked token at once, and revoking twice is harmless', async () => {
    const analyst = await createActor(app, 'analyst');
    expect((await as(app, analyst)('/v1/me')).statusCode).toBe(200);
    expect((await asAdmin({ method: 'DELETE', url: `/v1/tokens/${analyst.tokenId}` })).statusCode).toBe(204);
    const after = await as(app, analyst)('/v1/me');
    expect(after.statusCode).toBe(401);
    expect(after.headers['www-authenticate']).toMatch(/^Bearer realm="testigo", error="invalid_token"/);
    expect((await asAdmin({ method: 'DELETE', url: `/v1/tokens/${analyst.tokenId}` })).statusCode).toBe(204);
    const [{ n }] = (await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_entries WHERE action = 'token.revoked' AND entity_id = $1",
      [analyst.tokenId],
    )) as [{ n: number }];
    expect(n).toBe(1);
  });

  it('stops an expired token', async () => {
    const analyst = await createActor(app, 'analyst');
    await db.query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [analyst.tokenId]);
    expect((await as(app, analyst)('/v1/me')).json().code).toBe('AUTH_INVALID_TOKEN');
  });

  it('records the last use in batches, not on every request', async () => {
    const analyst = await createActor(app, 'analyst');
    for (let i = 0; i < 5; i += 1) expect((await as(app, analyst)('/v1/me')).statusCode).toBe(200);
    const [before] = await db.query('SELECT last_used_at FROM api_tokens WHERE id = $1', [analyst.tokenId]);
    expect(before).toEqual({ last_used_at: null });
    await app.flushTokenUse();
    const [after] = await db.query<{ last_used_at: Date }>('SELECT last_used_at FROM api_tokens WHERE id = $1', [
      analyst.tokenId,
    ]);
    expect(Date.now() - after!.last_used_at.getTime()).toBeLessThan(60_000);
  });
});

describe('GET /v1/users', () => {
  it('filters by role and region and pages without repeats', async () => {
    for (let i = 0; i < 5; i += 1)
      await post('/v1/users', { name: `Pager ${i}`, role: 'observer', scopeRegion: '13', externalId: `P-${i}` });
    const seen: string[] = [];
    let url = '/v1/users?role=observer&region=13&limit=2';
    for (let page = 0; page < 10; page += 1) {
      const body = (await asAdmin(url)).json();
      seen.push(...body.items.map((user: { externalId: string }) => user.externalId));
      if (!body.nextCursor) break;
      url = `/v1/users?role=observer&region=13&limit=2&cursor=${body.nextCursor}`;
    }
    expect(seen).toEqual(['P-0', 'P-1', 'P-2', 'P-3', 'P-4']);
    expect((await asAdmin('/v1/users?q=pager%203')).json().items.map((user: { name: string }) => user.name)).toEqual([
      'Pager 3',
    ]);
  });

  it.each(['/v1/users?role=king', '/v1/users?limit=0', '/v1/users?cursor=abc', '/v1/users?sort=name'])(
    'answers 400 for %s',
    async (url) => {
      expect((await asAdmin(url)).json().code).toBe('VALIDATION_FAILED');
    },
  );
});

describe('PATCH /v1/users/{id}', () => {
  it('deactivates a user, which revokes all its tokens at once, and reactivates it (with new tokens only)', async () => {
    const analyst = await createActor(app, 'analyst');
    const second = (await post(`/v1/users/${analyst.id}/tokens`, {})).json().token as string;
    const patch = (active: boolean) =>
      asAdmin({ method: 'PATCH', url: `/v1/users/${analyst.id}`, payload: { active } });
    const deactivated = await patch(false);
    expect(deactivated.json()).toMatchObject({ active: false });
    expect(deactivated.json().deactivatedAt).not.toBeNull();
    for (const token of [analyst.token, second]) {
      expect((await app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
    }
    await patch(true);
    expect((await as(app, analyst)('/v1/me')).statusCode).toBe(401);
    const fresh = (await post(`/v1/users/${analyst.id}/tokens`, {})).json().token as string;
    expect((await app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${fresh}` } })).statusCode).toBe(200);
  });

  it('keeps the last active admin', async () => {
    await db.query("UPDATE users SET active = false WHERE role = 'admin' AND id <> $1", [admin.id]);
    const response = await asAdmin({ method: 'PATCH', url: `/v1/users/${admin.id}`, payload: { active: false } });
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('USER_LAST_ADMIN');
  });

  it('rejects server-owned fields and an empty change', async () => {
    const analyst = await createActor(app, 'analyst');
    for (const payload of [{ createdAt: '2020-01-01T00:00:00Z' }, { id: analyst.id }, {}]) {
      expect((await asAdmin({ method: 'PATCH', url: `/v1/users/${analyst.id}`, payload })).statusCode).toBe(400);
    }
  });
});

describe('PUT /v1/users/{id}/assignments', () => {
  it('replaces the list, and rejects unknown centres naming each', async () => {
    const observer = (await post('/v1/users', { name: 'Assignee', role: 'observer' })).json();
    const put = (centres: string[]) =>
      asAdmin({ method: 'PUT', url: `/v1/users/${observer.id}/assignments`, payload: { centres } });
    expect(
      (await put(['130101001', '010101001'])).json().assignments.map((a: { centreCode: string }) => a.centreCode),
    ).toEqual(['010101001', '130101001']);
    expect((await put(['130201001'])).json().assignments.map((a: { centreCode: string }) => a.centreCode)).toEqual([
      '130201001',
    ]);
    const bad = await put(['130201001', 'NOPE1', 'NOPE2']);
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors.map((e: { centre: string }) => e.centre)).toEqual(['NOPE1', 'NOPE2']);
    expect((await put(['130201001', '130201001'])).statusCode).toBe(400);
    expect(
      (await asAdmin(`/v1/users/${observer.id}`)).json().assignments.map((a: { centreCode: string }) => a.centreCode),
    ).toEqual(['130201001']);
  });
});

describe('GET /v1/me', () => {
  it('returns the caller with the token in use', async () => {
    const response = await asAdmin('/v1/me');
    expect(response.json()).toMatchObject({ id: admin.id, role: 'admin', token: { id: admin.tokenId } });
    expect(JSON.stringify(response.json())).not.toContain(admin.token);
  });
});

describe('the audit trail', () => {
  it('is append-only', async () => {
    await expect(db.query("UPDATE audit_entries SET action = 'forged'")).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM audit_entries')).rejects.toThrow(/append-only/);
  });

  it('lists entries newest first, filtered by actor and action, with a cursor', async () => {
    const all = (await asAdmin(`/v1/audit?actor=${admin.id}&action=user&limit=2`)).json();
    expect(all.items).toHaveLength(2);
    expect(
      all.items.every(
        (entry: { action: string; actorId: string }) => entry.action.startsWith('user.') && entry.actorId === admin.id,
      ),
    ).toBe(true);
    expect(Number(all.items[0].id)).toBeGreaterThan(Number(all.items[1].id));
    const next = (await asAdmin(`/v1/audit?actor=${admin.id}&action=user&limit=2&cursor=${all.nextCursor}`)).json();
    expect(Number(next.items[0].id)).toBeLessThan(Number(all.items[1].id));
  });
});

describe('ADMIN_TOKEN bootstrap', () => {
  it('creates the first admin once, and never when an admin exists', async () => {
    const fresh = await setupTestApp({ migrated: true });
    const service = createUsersService(fresh.app.db.prisma);
    await fresh.db.query("UPDATE users SET active = false WHERE role = 'admin'");
    const secret = 'tg_bootstrap-secret-0123456789-abcdefghijkl';
    const outcomes = await Promise.all([0, 1, 2].map(() => service.bootstrapAdmin(systemContext('startup'), secret)));
    expect(outcomes.filter((outcome) => outcome === 'created')).toHaveLength(1);
    const me = await fresh.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${secret}` } });
    expect(me.json()).toMatchObject({ name: 'Administrator', role: 'admin' });
    expect(await service.bootstrapAdmin(systemContext('startup'), 'tg_another-secret-0123456789-abcdefghijklm')).toBe(
      'exists',
    );
  });
});
