// testigo-verify (bin/testigo-verify.mjs) against a running server (--url): a genuine receipt fetched from it is
// verified (exit 0); the same receipt with one byte of its entry changed is refused (exit 1).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { registrySample, reportPayload } from '../helpers/factories.js';
import {
  adminHeaders,
  ensureBuilt,
  killAllServers,
  ROOT,
  run,
  startServer,
  TEST_ADMIN_TOKEN,
} from '../helpers/server-process.js';

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'testigo-verify-url-'));
}, 180_000);
afterAll(async () => {
  await killAllServers();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('testigo-verify --url', () => {
  it('accepts a genuine receipt from the running server and refuses one altered by one byte', async () => {
    const server = startServer({ DATABASE_URL: db.url, DATA_DIR: dir, LOG_MERGE_DELAY_MS: '500' });
    const base = await server.listening();
    const send = (path: string, body: string, type = 'application/json') =>
      fetch(`${base}${path}`, { method: 'POST', headers: { ...adminHeaders, 'content-type': type }, body });
    expect((await send('/v1/registry/import', registrySample, 'text/csv')).status).toBe(200);
    const answer = await send('/v1/reports', JSON.stringify(reportPayload('arrival')));
    expect(answer.status).toBe(201);
    const accepted = (await answer.json()) as { receipt: { entry: string } };
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the merge delay, and then some

    const verify = async (receipt: unknown) => {
      const file = join(dir, `receipt-${Math.random()}.json`);
      await writeFile(file, JSON.stringify(receipt));
      return run(
        process.execPath,
        ['bin/testigo-verify.mjs', '--receipt', file, '--url', base, '--token', TEST_ADMIN_TOKEN],
        {
          cwd: ROOT,
          timeoutMs: 30_000,
        },
      );
    };
    const genuine = await verify(accepted);
    expect(genuine.code, genuine.stdout + genuine.stderr).toBe(0);
    const bytes = Buffer.from(accepted.receipt.entry, 'base64');
    bytes[10] = bytes[10]! ^ 1;
    const altered = await verify({ ...accepted, receipt: { ...accepted.receipt, entry: bytes.toString('base64') } });
    expect(altered.code, altered.stdout + altered.stderr).toBe(1);
    expect((await server.stop()).code).toBe(0);
  }, 120_000);
});
