// The start log of the built server: where the API and its docs are, how to create the first admin when
// there is none, JSON when stdout is not a terminal, and pino-pretty's readable lines on a terminal in
// development (the terminal is a pseudo-terminal made by util-linux `script`).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  ensureBuilt,
  killAllServers,
  ROOT,
  SERVER_JS,
  startServer,
  TEST_ADMIN_TOKEN,
  within,
} from '../helpers/server-process.js';

let db: TestDatabase;
/** Process groups of the script(1) sessions still running, killed in afterAll if a test failed halfway. */
const terminals = new Set<number>();

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
}, 180_000);

afterAll(async () => {
  for (const group of terminals) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await killAllServers();
  await db?.drop();
}, 60_000);

const baseEnv = () => ({ DATABASE_URL: db.url, DATA_DIR: '/nonexistent-testigo-data' });

describe('server start log', () => {
  it('on an empty database, names the API and docs URLs and how to create the first admin, as JSON lines', async () => {
    const server = startServer({ ...baseEnv(), NODE_ENV: 'development', ADMIN_TOKEN: '' });
    const base = await server.listening(60_000);
    const ready = await server.waitForLog((line) => line.event === 'server.ready', 30_000, 'server.ready');
    expect(ready.url).toBe(base);
    expect(ready.docs).toBe(`${base}/docs`);
    expect(ready.msg).toContain(base);
    expect(ready.msg).toContain(`${base}/docs`);
    const hint = await server.waitForLog((line) => line.event === 'admin.missing', 30_000, 'admin.missing');
    expect(hint.msg).toContain('npm run cli -- token:create --role admin');
    expect(hint.msg).toContain('ADMIN_TOKEN');
    // stdout is a pipe here, so every line is JSON (the helper keeps a non-JSON line as { msg } only).
    expect(server.logs.length).toBeGreaterThan(2);
    for (const line of server.logs) expect(typeof line.level, JSON.stringify(line)).toBe('number');
    expect((await server.stop()).code).toBe(0);
  }, 90_000);

  it('says nothing about creating an admin once one exists (ADMIN_TOKEN bootstrapped it)', async () => {
    const server = startServer({ ...baseEnv(), NODE_ENV: 'development', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    await server.listening(60_000);
    await server.waitForLog((line) => line.event === 'server.ready', 30_000, 'server.ready');
    expect(server.logs.some((line) => line.event === 'admin.bootstrap')).toBe(true);
    expect(server.logs.some((line) => line.event === 'admin.missing')).toBe(false);
    expect((await server.stop()).code).toBe(0);
  }, 90_000);

  /** Runs the server on a pseudo-terminal until `until` matches its output; returns what it printed. */
  async function onTerminal(env: Record<string, string>, until: RegExp): Promise<string> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env };
    for (const name of ['TEST_DATABASE_URL', 'MIGRATE_ON_START', 'EMBEDDED_POSTGRES_PORT', 'ADMIN_TOKEN']) {
      delete childEnv[name];
    }
    Object.assign(childEnv, env);
    const command = `exec '${process.execPath}' '${SERVER_JS}'`;
    const child = spawn('script', ['-q', '-e', '-f', '-c', command, '/dev/null'], {
      cwd: ROOT,
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const group = child.pid;
    if (group === undefined) throw new Error('could not start script(1) for a pseudo-terminal');
    terminals.add(group);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<void>((resolve) =>
      child.on('close', () => {
        terminals.delete(group);
        resolve();
      }),
    );
    try {
      await within(
        new Promise<void>((resolve, reject) => {
          const check = () => (until.test(output) ? resolve() : undefined);
          child.stdout.on('data', check);
          void exited.then(() => reject(new Error(`script exited before ${until}:\n${output}`)));
        }),
        45_000,
        `${until} on the terminal`,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n--- output ---\n${output}`, { cause: error });
      });
    } finally {
      try {
        process.kill(-group, 'SIGTERM');
      } catch {
        // already gone
      }
      await within(exited, 15_000, 'the terminal session to end').catch(() => process.kill(-group, 'SIGKILL'));
    }
    return output;
  }

  it('on a terminal in development, prints readable lines (pino-pretty), not JSON', async () => {
    const output = await onTerminal({ ...baseEnv(), NODE_ENV: 'development' }, /Testigo is ready at http:\/\/\S+/);
    // eslint-disable-next-line no-control-regex -- strips the terminal's colour codes
    const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toMatch(
      /INFO.*Testigo is ready at http:\/\/127\.0\.0\.1:\d+ \(docs: http:\/\/127\.0\.0\.1:\d+\/docs\)/,
    );
    expect(plain).not.toMatch(/^\{"level"/m);
  }, 90_000);

  it('on a terminal in production, stays JSON', async () => {
    const output = await onTerminal({ ...baseEnv(), NODE_ENV: 'production' }, /"event":"server\.ready"/);
    const ready = output.split(/\r?\n/).find((line) => line.includes('"event":"server.ready"'));
    expect(JSON.parse(ready ?? 'null')).toMatchObject({ msg: expect.stringContaining('/docs') });
  }, 90_000);
});
