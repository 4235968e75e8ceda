// The log key of a real server: generated at first start under DATA_DIR (mode 0600, said in the start log),
// reused on restart; a malformed LOG_SIGNING_KEY stops the start with exit code 78.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { adminHeaders, ensureBuilt, killAllServers, startServer } from '../helpers/server-process.js';

let db: TestDatabase;
let dataDir: string;
beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-log-key-'));
}, 180_000);
afterAll(async () => {
  await killAllServers();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('the log signing key', () => {
  it('is generated under DATA_DIR at first start, kept 0600, and reused on restart', async () => {
    const env = { DATABASE_URL: db.url, DATA_DIR: dataDir, LOG_SIGNING_KEY: '', LOG_ORIGIN: 'observers.example/log' };
    const first = startServer(env);
    const base = await first.listening();
    const generated = await first.waitForLog((line) => line.event === 'log.key', 10_000, 'log.key');
    expect(generated).toMatchObject({ source: 'generated', path: join(dataDir, 'log', 'signing.key') });
    const file = join(dataDir, 'log', 'signing.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toMatch(/^PRIVATE\+KEY\+observers\.example\/log\+[0-9a-f]{8}\+/);
    const served = await fetch(`${base}/v1/log/key`, { headers: adminHeaders });
    expect((await served.text()).trim()).toBe(generated.key);
    expect((await first.stop()).code).toBe(0);

    const again = startServer(env);
    await again.listening();
    const reused = await again.waitForLog((line) => line.event === 'log.key', 10_000, 'log.key');
    expect(reused).toMatchObject({ source: 'file', key: generated.key });
    expect((await again.stop()).code).toBe(0);
  }, 120_000);

  it('refuses a malformed LOG_SIGNING_KEY, or an origin that is not its name, with exit code 78', async () => {
    const bad = startServer({
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      LOG_SIGNING_KEY: 'PRIVATE+KEY+x+00000000+AAAA',
    });
    expect((await bad.waitForExit(30_000)).code).toBe(78);
    expect(bad.stderr()).toContain('LOG_SIGNING_KEY');
    const other = startServer({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOG_ORIGIN: 'another.example/log' });
    expect((await other.waitForExit(30_000)).code).toBe(78);
    expect(other.stderr()).toContain('LOG_ORIGIN');
  }, 90_000);
});
