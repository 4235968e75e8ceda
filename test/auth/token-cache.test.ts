// Two API processes on one database (two apps here): a token lookup cached by one is dropped the moment
// the other changes that user's access, and the cache is off whenever its notification link is down.
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { as, createActor } from '../helpers/actors.js';
import { setupTestApp, testConfig } from '../helpers/app.js';

const first = await setupTestApp();
const config = testConfig({ DATABASE_URL: first.db.url });
const second = await buildApp({ config, database: createDatabase(databaseOptions(config, first.db.url)) });
await second.ready();
afterAll(() => second.close());

async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe('the token cache across processes', () => {
  it('drops a deactivated user everywhere', async () => {
    const analyst = await createActor(first.app, 'analyst');
    expect((await as(second, analyst)('/v1/me')).statusCode).toBe(200); // cached by the second process
    const patched = await as(
      first.app,
      first.admin,
    )({ method: 'PATCH', url: `/v1/users/${analyst.id}`, payload: { active: false } });
    expect(patched.statusCode).toBe(200);
    expect((await as(first.app, analyst)('/v1/me')).statusCode).toBe(401); // this process: at once
    expect(await eventually(async () => (await as(second, analyst)('/v1/me')).statusCode === 401)).toBe(true);
  });

  it('drops a revoked token everywhere', async () => {
    const analyst = await createActor(first.app, 'analyst');
    expect((await as(second, analyst)('/v1/me')).statusCode).toBe(200);
    expect(
      (await as(first.app, first.admin)({ method: 'DELETE', url: `/v1/tokens/${analyst.tokenId}` })).statusCode,
    ).toBe(204);
    expect(await eventually(async () => (await as(second, analyst)('/v1/me')).statusCode === 401)).toBe(true);
  });

  it('caches: a change made behind its back is not seen while the link is up', async () => {
    const analyst = await createActor(first.app, 'analyst');
    expect((await as(second, analyst)('/v1/me')).statusCode).toBe(200);
    await first.db.query('UPDATE users SET active = false WHERE id = $1', [analyst.id]);
    expect((await as(second, analyst)('/v1/me')).statusCode).toBe(200);
  });

  it('stops caching, and forgets, as soon as its notification connection is lost', async () => {
    const analyst = await createActor(first.app, 'analyst');
    expect((await as(second, analyst)('/v1/me')).statusCode).toBe(200);
    await first.db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'testigo-listener'",
    );
    await first.db.query('UPDATE users SET active = false WHERE id = $1', [analyst.id]);
    expect(await eventually(async () => (await as(second, analyst)('/v1/me')).statusCode === 401)).toBe(true);
  });
});
