// Running the built server (dist/server.js) and the CLI as child processes, for tests and benchmarks:
// building once, starting and stopping children with bounded waits, and cleaning up after them.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_JS = join(ROOT, 'dist', 'server.js');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves `promise`, or rejects after `ms` with a message naming what was awaited. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function newestMtime(path: string): number {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function buildIsStale(): boolean {
  if (!existsSync(SERVER_JS)) return true;
  const sources = Math.max(
    newestMtime(join(ROOT, 'src')),
    statSync(join(ROOT, 'tsconfig.json')).mtimeMs,
    statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs,
  );
  return statSync(SERVER_JS).mtimeMs < sources;
}

const runningGroups = new Set<number>();

function killGroup(group: number): void {
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** For afterAll: SIGKILLs the process group of every command started by run() that is still running. */
export function killAllRuns(): void {
  for (const group of runningGroups) killGroup(group);
  runningGroups.clear();
}

/** Runs a command to completion (bounded), returning its exit code and output. */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that npx's grandchildren (tsx, node) can be killed together.
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const group = child.pid;
    if (group) runningGroups.add(group);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      if (group) killGroup(group);
      reject(
        new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms\n${stdout}\n${stderr}`),
      );
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      if (group) runningGroups.delete(group);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (group) runningGroups.delete(group);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Builds dist/ as `npm run build` does (tsc, then the static assets) when it is missing or older than src/. Test files run in
 * parallel, so the build is serialised by a lock directory: a second file never rewrites dist/ while
 * the first one is running the server from it.
 */
export async function ensureBuilt(): Promise<void> {
  const lock = join(tmpdir(), `testigo-build-${Buffer.from(ROOT).toString('hex').slice(-24)}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left by a killed run is taken over after two minutes.
      const age =
        Date.now() -
        (await stat(lock).then(
          (info) => info.mtimeMs,
          () => Date.now(),
        ));
      if (age > 120_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Timed out waiting for the build lock ${lock}`, { cause: error });
      await sleep(200);
    }
  }
  try {
    if (buildIsStale()) {
      const result = await run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
        timeoutMs: 110_000,
      });
      if (result.code !== 0)
        throw new Error(`The build failed (tsc exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
      // The rest of `npm run build`: the files tsc does not emit (the dashboard's page).
      const assets = await run(process.execPath, [join(ROOT, 'scripts', 'copy-assets.mjs')], { timeoutMs: 30_000 });
      if (assets.code !== 0) throw new Error(`Copying the build's assets failed:\n${assets.stderr}`);
    }
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

export interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Every stdout line parsed as JSON (lines that are not JSON are kept as { msg: line }). */
  logs: LogLine[];
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Waits (bounded) for a log line matching `match`; rejects if the process exits first. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine>;
  /** Waits for "Server listening at …" and returns the base URL. */
  listening(timeoutMs?: number): Promise<string>;
  /** Waits up to `timeoutMs` for the exit, sending no signal; SIGKILLs on timeout (and then throws). */
  waitForExit(timeoutMs: number, what?: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` and waits up to `timeoutMs` for the exit; SIGKILLs on timeout (and then throws). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ServerProcess>();

/** The ADMIN_TOKEN every started server bootstraps its first admin with, and the header that uses it. */
export const TEST_ADMIN_TOKEN = 'tg_process-test-admin-token-0123456789abcdef';
export const adminHeaders = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } as const;

/** Starts `node dist/server.js` with exactly `env` (plus PATH/HOME), never the test runner's database variables. */
/** The log signing key of tests (see startServer and testConfig). */
export const TEST_LOG_SIGNING_KEY =
  'PRIVATE+KEY+testigo.test/log+4ff0274e+AY/gPHR3WDXNYyjZkst5kjXiYLR66Gp1YZRwsAp7b4tM';

export function startServer(env: Record<string, string>): ServerProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  // Only what this test sets: no DATABASE_URL, TEST_DATABASE_URL, PORT or DATA_DIR leaks from the runner.
  for (const name of [
    'DATABASE_URL',
    'TEST_DATABASE_URL',
    'PORT',
    'HOST',
    'DATA_DIR',
    'LOG_LEVEL',
    'MIGRATE_ON_START',
    'EMBEDDED_POSTGRES_PORT',
    'ADMIN_TOKEN',
  ]) {
    delete childEnv[name];
  }
  Object.assign(childEnv, {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    // A fixed log key, so that no server writes one under its DATA_DIR unless the test asks (LOG_SIGNING_KEY: '').
    LOG_SIGNING_KEY: TEST_LOG_SIGNING_KEY,
    ...env,
  });
  const child = spawn(process.execPath, [SERVER_JS], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  let stderr = '';
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
    }
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
      notify();
    });
    child.on('error', (error) => {
      stderr += `spawn error: ${error.message}\n`;
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
      notify();
    });
  });

  const describe = () =>
    `\n--- stdout ---\n${logs.map((line) => JSON.stringify(line)).join('\n')}\n--- stderr ---\n${stderr}`;

  const server: ServerProcess = {
    child,
    pid: child.pid ?? -1,
    logs,
    stderr: () => stderr,
    exited,
    hasExited: () => exitInfo !== undefined,
    waitForLog(match, timeoutMs, what) {
      return new Promise<LogLine>((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < logs.length; seen += 1) {
            if (match(logs[seen]!)) return finish(() => resolve(logs[seen]!));
          }
          if (exitInfo)
            finish(() =>
              reject(new Error(`The server exited (${JSON.stringify(exitInfo)}) before ${what}${describe()}`)),
            );
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${describe()}`))),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async listening(timeoutMs = 60_000) {
      const line = await server.waitForLog(
        (entry) => /^Server listening at http:\/\//.test(entry.msg ?? ''),
        timeoutMs,
        'Server listening at …',
      );
      return /^Server listening at (http:\/\/\S+)/.exec(line.msg!)![1]!;
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (!exitInfo) child.kill(signal);
      return server.waitForExit(timeoutMs, `the server to exit after ${signal}`);
    },
    async waitForExit(timeoutMs, what = 'the server to exit') {
      try {
        return await within(exited, timeoutMs, what);
      } catch (error) {
        child.kill('SIGKILL');
        await within(exited, 5_000, 'the server to exit after SIGKILL').catch(() => undefined);
        throw new Error(`${(error as Error).message}${describe()}`, { cause: error });
      }
    },
  };
  children.add(server);
  void exited.then(() => children.delete(server));
  return server;
}

/** For afterAll: SIGKILLs any server child still running (a test that failed halfway). */
export async function killAllServers(): Promise<void> {
  await Promise.all(
    [...children].map(async (server) => {
      if (server.hasExited()) return;
      server.child.kill('SIGKILL');
      await within(server.exited, 5_000, `server ${server.pid} to die`).catch(() => undefined);
    }),
  );
}

/** The pid in DATA_DIR/postgres/postmaster.pid when that postmaster is still alive. */
export function livePostmaster(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/** Stops an embedded PostgreSQL a failed test left running on `dataDir` (fast shutdown, then SIGKILL). */
export async function stopLeftoverPostmaster(dataDir: string): Promise<void> {
  const pid = livePostmaster(dataDir);
  if (!pid) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i += 1) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 20 && isAlive(pid); i += 1) await sleep(100);
}

/** Polls `url` until it answers 200 (bounded). */
export async function waitForOk(url: string, timeoutMs: number): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return response;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for 200 from ${url}; last: ${last}`);
    await sleep(100);
  }
}
