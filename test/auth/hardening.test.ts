// Issue 10: the token cache has no window for a revocation (point 7); trusted proxies by hop count or
// address (point 12); a never-seen valid token is not locked out by junk tokens from its IP (point 13).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { type AppOptions, buildApp } from '../../src/app.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp, testConfig } from '../helpers/app.js';

const first = await setupTestApp();
const opened: FastifyInstance[] = [];
afterAll(async () => {
  for (const app of opened) await app.close();
});

/** Another API process on the same database. */
async function another(env: Record<string, string> = {}, options: Partial<AppOptions> = {}): Promise<FastifyInstance> {
  const config = testConfig({ DATABASE_URL: first.db.url, ...env });
  const app = await buildApp({ config, database: createDatabase(databaseOptions(config, first.db.url)), ...options });
  opened.push(app);
  await app.ready();
  return app;
}

async function poll(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

const me = (app: FastifyInstance, token: string) =>
  app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${token}` } });

/** Whether `app`'s token cache is on: a change made behind its back (no NOTIFY) is not seen. */
async function cacheIsOn(app: FastifyInstance): Promise<boolean> {
  const probe = await createActor(first.app, 'analyst');
  if ((await me(app, probe.token)).statusCode !== 200) return false;
  await first.db.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [probe.tokenId]);
  return (await me(app, probe.token)).statusCode === 200;
}

let armed: { userId: string; entered: () => void; sawChange: boolean } | undefined;
const second = await another(
  {},
  {
    afterTokenRead: async ({ userId, changed }) => {
      const hold = armed?.userId === userId ? armed : undefined;
      if (!hold) return;
      hold.entered();
      // Hold the lookup between its read and its set until this process has handled the revocation's NOTIFY.
      hold.sawChange = await poll(changed);
    },
  },
);

describe('the token cache › a revocation handled during a lookup', () => {
  it("GET /v1/me › 401 right after a revocation NOTIFY that arrived between the lookup's read and its cache.set", async () => {
    expect(await poll(() => cacheIsOn(second))).toBe(true);
    const analyst = await createActor(first.app, 'analyst');
    let entered!: () => void;
    const inLookup = new Promise<void>((resolve) => {
      entered = resolve;
    });
    armed = { userId: analyst.id, entered, sawChange: false };
    const during = me(second, analyst.token);
    await inLookup;
    expect(
      (await as(first.app, first.admin)({ method: 'DELETE', url: `/v1/tokens/${analyst.tokenId}` })).statusCode,
    ).toBe(204);
    // Read before the revocation committed: this one request passes.
    expect((await during).statusCode).toBe(200);
    expect(armed.sawChange).toBe(true);
    armed = undefined;
    // But what it read was not cached: the token is refused at once, not after AUTH_CACHE_TTL_MS.
    const after = await me(second, analyst.token);
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('AUTH_INVALID_TOKEN');
  });
});

const proxy = '10.0.0.5';
const behindOneProxy = await another({ TRUST_PROXY: '1', RATE_LIMIT_PER_IP: '3', RATE_LIMIT_WINDOW_MS: '60000' });
const listed = await another({ TRUST_PROXY: '10.0.0.0/8, 172.16.0.1' });
const limited = await another({ RATE_LIMIT_PER_IP: '3', RATE_LIMIT_PER_TOKEN: '50', RATE_LIMIT_WINDOW_MS: '60000' });

describe('TRUST_PROXY › a hop count or proxy addresses', () => {
  it('parses false/true, a hop count and a list of addresses/CIDRs, and names a wrong value', async () => {
    const { loadConfig } = await import('../../src/config.js');
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'false' }).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.1, 10.1.0.0/16,::1/128' }).TRUST_PROXY).toEqual([
      '10.0.0.1',
      '10.1.0.0/16',
      '::1/128',
    ]);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY: .*"10\.0\.0\.0\/33"/);
    expect(() => loadConfig({ TRUST_PROXY: 'proxy.example' })).toThrow(/TRUST_PROXY/);
  });

  it('with a hop count of 1, a client rotating X-Forwarded-For stays in its per-IP bucket', async () => {
    const statuses = [];
    for (let i = 0; i < 5; i += 1) {
      // The client writes anything first; the trusted proxy appends the address it saw.
      const forwarded = `198.18.${i}.${i + 1}, 203.0.113.50`;
      statuses.push(
        (
          await behindOneProxy.inject({
            url: '/v1/regions',
            remoteAddress: proxy,
            headers: { 'x-forwarded-for': forwarded },
          })
        ).statusCode,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // Another client behind the same proxy has a bucket of its own.
    expect(
      (
        await behindOneProxy.inject({
          url: '/v1/regions',
          remoteAddress: proxy,
          headers: { 'x-forwarded-for': '203.0.113.51' },
        })
      ).statusCode,
    ).toBe(401);
  });

  const audited = async (app: FastifyInstance, remoteAddress: string, forwarded: string) => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/users',
      remoteAddress,
      headers: { ...first.admin.headers, 'x-forwarded-for': forwarded },
      payload: { name: `Audited ${forwarded}`, role: 'analyst' },
    });
    expect(response.statusCode, response.body).toBe(201);
    const [row] = await first.db.query<{ ip: string }>(
      "SELECT ip FROM audit_entries WHERE action = 'user.created' AND entity_id = $1",
      [response.json().id],
    );
    return row!.ip;
  };

  it('with a hop count of 1, the audit trail records the address the proxy saw, not one the client wrote', async () => {
    expect(await audited(behindOneProxy, proxy, '192.0.2.66, 203.0.113.60')).toBe('203.0.113.60');
  });

  it('with proxy addresses, only hops from those proxies are trusted', async () => {
    expect(await audited(listed, proxy, '192.0.2.66, 172.16.0.1, 203.0.113.70')).toBe('203.0.113.70');
    // A client reaching the API directly cannot forward anything.
    expect(await audited(listed, '198.51.100.80', '203.0.113.71')).toBe('198.51.100.80');
  });
});

describe('rate-limit buckets › unknown well-formed tokens', () => {
  const call = (remoteAddress: string, token: string) =>
    limited.inject({ url: '/v1/me', remoteAddress, headers: { authorization: `Bearer ${token}` } });
  const random = () => `tg_${randomBytes(32).toString('base64url')}`;

  it("junk tokens exhaust their IP's bucket, yet a valid token never seen here gets through from that IP", async () => {
    const nat = '198.51.100.20';
    const revoked: TestActor = await createActor(first.app, 'observer');
    await first.db.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [revoked.tokenId]);
    const statuses = [];
    // A revoked token (once in a bucket of its own, then with its IP's junk), and malformed ones.
    for (const token of [revoked.token, revoked.token, 'junk', revoked.token, 'tg_short', 'junk'])
      statuses.push((await call(nat, token)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    const phone = await createActor(first.app, 'observer');
    const firstCall = await call(nat, phone.token);
    expect(firstCall.statusCode, firstCall.body).toBe(200);
    expect((await call(nat, phone.token)).statusCode).toBe(200);
    expect((await call(nat, 'junk')).statusCode).toBe(429);
  });

  it('an IP that keeps trying new well-formed tokens ends up in its IP bucket', async () => {
    const guesser = '198.51.100.21';
    const statuses = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await call(guesser, random())).statusCode);
    // Three failed lookups with buckets of their own, then three more in the IP bucket, then 429.
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
  });
});

describe('deactivation › reaches every process', () => {
  it('a token cached by another process stays refused there after deactivation and reactivation', async () => {
    expect(await poll(() => cacheIsOn(second))).toBe(true);
    const analyst = await createActor(first.app, 'analyst');
    expect((await me(second, analyst.token)).statusCode).toBe(200); // cached by the second process
    const patch = (active: boolean) =>
      as(first.app, first.admin)({ method: 'PATCH', url: `/v1/users/${analyst.id}`, payload: { active } });
    expect((await patch(false)).statusCode).toBe(200);
    expect((await patch(true)).statusCode).toBe(200);
    expect(await poll(async () => (await me(second, analyst.token)).statusCode === 401)).toBe(true);
    // And it stays refused: the token was revoked, not suspended.
    expect((await me(second, analyst.token)).statusCode).toBe(401);
    expect((await me(first.app, analyst.token)).statusCode).toBe(401);
  });
});
