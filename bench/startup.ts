// Start-up: time from spawning `node dist/server.js` to the first 200 from /readyz, with an external
// PostgreSQL (fresh database: migrations run; then again: nothing to migrate) and with the embedded
// default (first start runs initdb; then a restart), next to a bare Fastify process answering its first
// request as the baseline.   npm run bench -- startup
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, killAllServers, ROOT, startServer } from '../test/helpers/server-process.js';
import { dropDatabases, freshDatabase, type Row, report } from './lib.js';

async function firstOk(url: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`no 200 from ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function timeToReady(env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const server = startServer({ ...env, LOG_LEVEL: 'info' });
  const base = await server.listening(120_000);
  await firstOk(`${base}/readyz`, 60_000);
  const seconds = (performance.now() - started) / 1000;
  await server.stop();
  return seconds;
}

async function bareFastify(): Promise<number> {
  const started = performance.now();
  const script = `import Fastify from 'fastify';
    const app = Fastify(); app.get('/healthz', async () => ({ status: 'ok' }));
    await app.listen({ port: 0, host: '127.0.0.1' }); console.log(app.server.address().port);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve) =>
    child.stdout.once('data', (chunk) => resolve(String(chunk).trim())),
  );
  await firstOk(`http://127.0.0.1:${port}/healthz`, 10_000);
  const seconds = (performance.now() - started) / 1000;
  child.kill('SIGTERM');
  return seconds;
}

export async function startupBench(): Promise<void> {
  await ensureBuilt();
  const rows: Row[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), 'testigo-bench-startup-'));
  try {
    rows.push({ case: 'baseline: bare Fastify, first 200', seconds: await bareFastify() });
    const url = await freshDatabase('startup');
    rows.push({
      case: 'external PostgreSQL, fresh database (migrates)',
      seconds: await timeToReady({ DATABASE_URL: url }),
    });
    rows.push({ case: 'external PostgreSQL, already migrated', seconds: await timeToReady({ DATABASE_URL: url }) });
    rows.push({ case: 'embedded PostgreSQL, first start (initdb)', seconds: await timeToReady({ DATA_DIR: dataDir }) });
    rows.push({ case: 'embedded PostgreSQL, restart', seconds: await timeToReady({ DATA_DIR: dataDir }) });
    await report('startup', 'Start-up: spawn of node dist/server.js to the first 200 from /readyz', rows, [
      '`npm start` adds the TypeScript build (prestart: npm run build) before these figures',
    ]);
  } finally {
    await killAllServers();
    await dropDatabases();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await startupBench();
