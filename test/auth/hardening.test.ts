// Issue 10: the token cache has no window for a revocation (point 7); trusted proxies by hop count or
// address (point 12); a never-seen valid token is not locked out by junk tokens from its IP (point 13).
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, type AppOptions } from '../../src/app.js';
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

const me = (app: FastifyInstance, token: string) => app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${token}` } });

/** Whether `app`'s token cache is on: a change made behind its back (no NOTIFY) is not seen. */
async function cacheIsOn(app: FastifyInstance): Promise<boolean> {
  const probe = await createActor(first.app, 'analyst');
  if ((await me(app, probe.token)).statusCode !== 200) return false;
  await first.db.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [probe.tokenId]);
  return (await me(app, probe.token)).statusCode === 200;
}

let armed: { userId: string; entered: () => void; sawChange: boolean } | undefined;
const second = await another({}, {
  afterTokenRead: async ({ userId, changed }) => {
    const hold = armed?.userId === userId ? armed : undefined;
    if (!hold) return;
    hold.entered();
    // Hold the lookup between its read and its set until this process has handled the revocation's NOTIFY.
    hold.sawChange = await poll(changed);
  },
});

describe('the token cache › a revocation handled during a lookup', () => {
  it('GET /v1/me › 401 right after a revocation NOTIFY that arrived between the lookup\'s read and its cache.set', async () => {
    expect(await poll(() => cacheIsOn(second))).toBe(true);
    const analyst = await createActor(first.app, 'analyst');
    let entered!: () => void;
    const inLookup = new Promise<void>((resolve) => { entered = resolve; });
    armed = { userId: analyst.id, entered, sawChange: false };
    const during = me(second, analyst.token);
    await inLookup;
    expect((await as(first.app, first.admin)({ method: 'DELETE', url: `/v1/tokens/${analyst.tokenId}` })).statusCode).toBe(204);
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
