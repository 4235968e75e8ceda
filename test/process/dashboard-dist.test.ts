// The built server (dist/, as `npm start` and the Docker image run it) serves the dashboard: the build
// copies the page's static files next to the compiled module.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { ensureBuilt, killAllServers, startServer } from '../helpers/server-process.js';

let db: TestDatabase;

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
}, 180_000);

afterAll(async () => {
  await killAllServers();
  await db?.drop();
}, 60_000);

describe('dist/server.js', () => {
  it('serves GET /dashboard and its modules, and redirects / there', async () => {
    const server = startServer({ DATABASE_URL: db.url, DATA_DIR: '/nonexistent-testigo-data' });
    const base = await server.listening(60_000);
    const page = await fetch(`${base}/dashboard`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/dashboard/app.js');
    for (const file of ['app.js', 'live.js', 'map.js', 'config.js', 'dashboard.css']) {
      expect((await fetch(`${base}/dashboard/${file}`)).status, file).toBe(200);
    }
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard');
    await server.stop();
  });
});
