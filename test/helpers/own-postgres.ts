// A PostgreSQL 15 of a test's own (initdb + pg_ctl in a temporary directory, on a free loopback port), for
// fault tests that stop it, kill it and start it again — never the shared server on 5432. As root (where
// PostgreSQL refuses to run) every command runs as the `postgres` user on a directory it owns.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../../src/infra/db/migrator.js';
import { isAlive, run } from './server-process.js';

const BIN = process.env.TEST_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const isRoot = process.getuid?.() === 0;

export interface OwnPostgres {
  port: number;
  /** The directory holding the cluster (`data/`) and its log (`postgres.log`); removed by destroy(). */
  root: string;
  /** The URL of `database` (by default the migrated `testigo`). */
  url(database?: string): string;
  /** The postmaster's pid while it runs. */
  postmasterPid(): number | undefined;
  /** pg_ctl start, waiting until it accepts connections. */
  start(): Promise<void>;
  /** pg_ctl stop -m fast (or another mode), waiting until it is down. */
  stop(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>;
  /** SIGKILL to the postmaster, then waits (bounded) for its backends to notice and exit; SIGKILLs those that linger. */
  kill(): Promise<void>;
  /** One statement on `database`, on a connection of its own. */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<T[]>;
  /** Stops the server if it runs (immediate, then SIGKILL) and removes the directory; safe to call twice. */
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Runs a PostgreSQL binary, as `postgres` when we are root; throws with its output when it fails. */
async function pgCommand(binary: string, args: string[], timeoutMs: number): Promise<string> {
  const command = isRoot ? 'runuser' : join(BIN, binary);
  const argv = isRoot ? ['-u', 'postgres', '--', join(BIN, binary), ...args] : args;
  const result = await run(command, argv, { timeoutMs, cwd: tmpdir() });
  if (result.code !== 0)
    throw new Error(`${binary} ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Pids of the processes whose parent is `pid` (the postmaster's backends and helpers), from /proc. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Processes that still have `dataDir` as a postgres argument (orphaned backends after a SIGKILL of their postmaster). */
function postgresProcessesOf(dataDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes(dataDir)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * initdb, start, and a database `testigo` migrated with the project's migrator. `settings` go to
 * postgresql.conf (for example { max_connections: '60' }).
 */
export async function startOwnPostgres(options: { settings?: Record<string, string> } = {}): Promise<OwnPostgres> {
  if (!existsSync(join(BIN, 'initdb'))) throw new Error(`No PostgreSQL binaries in ${BIN} (set TEST_POSTGRES_BIN)`);
  const root = await mkdtemp(join(tmpdir(), 'testigo-own-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'postgres.log');
  const port = await freePort();
  const uid = isRoot ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()) : undefined;
  const gid = isRoot ? Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()) : undefined;
  let destroyed = false;
  let pidOfLastStart: number | undefined;

  const postmasterPid = () => {
    const pidFile = join(dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return undefined;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  };
  const url = (database = 'testigo') => `postgresql://postgres@127.0.0.1:${port}/${database}`;

  const own: OwnPostgres = {
    port,
    root,
    url,
    postmasterPid,
    async start() {
      await pgCommand('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-s'], 90_000);
      pidOfLastStart = postmasterPid();
    },
    async stop(mode = 'fast') {
      await pgCommand('pg_ctl', ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '60', '-s'], 90_000);
    },
    async kill() {
      const pid = postmasterPid();
      if (!pid) throw new Error('kill(): the postmaster is not running');
      const children = childrenOf(pid);
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !isAlive(pid), 10_000, `the postmaster ${pid} to die`);
      // Backends notice their postmaster's death and exit; a new postmaster cannot start while they hold its shared memory.
      await waitUntil(() => children.every((child) => !isAlive(child)), 15_000, 'the orphaned backends to exit').catch(
        () => {
          for (const child of children) if (isAlive(child)) process.kill(child, 'SIGKILL');
        },
      );
      await waitUntil(() => children.every((child) => !isAlive(child)), 10_000, 'the orphaned backends to die');
    },
    async query(sql, params, database) {
      const client = new pg.Client({ connectionString: url(database), connectionTimeoutMillis: 10_000 });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      if (postmasterPid()) await own.stop('immediate').catch(() => undefined);
      const pid = postmasterPid() ?? pidOfLastStart;
      if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
      for (const leftover of postgresProcessesOf(dataDir)) if (isAlive(leftover)) process.kill(leftover, 'SIGKILL');
      await rm(root, { recursive: true, force: true });
    },
  };

  try {
    if (isRoot) await chown(root, uid!, gid!);
    await pgCommand(
      'initdb',
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-instructions', '-N'],
      120_000,
    );
    const settings: Record<string, string> = {
      port: String(port),
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: "''",
      max_connections: '100',
      shared_buffers: "'64MB'",
      log_min_messages: 'warning',
      ...options.settings,
    };
    await appendFile(
      join(dataDir, 'postgresql.conf'),
      `\n# testigo own-postgres\n${Object.entries(settings)
        .map(([key, value]) => `${key} = ${value}`)
        .join('\n')}\n`,
    );
    if (isRoot) {
      await writeFile(logFile, '');
      await chown(logFile, uid!, gid!);
    }
    await own.start();
    await own.query('CREATE DATABASE testigo', [], 'postgres');
    await migrate(url());
    return own;
  } catch (error) {
    await own.destroy();
    throw error;
  }
}
