// Cost of authentication per request: the same GET (one region read) public and behind a bearer token,
// against the same server process, 50 connections each, one after the other.   npm run bench -- auth
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import autocannon from 'autocannon';
import pg from 'pg';
import { migrate } from '../src/infra/db/migrator.js';
import { newToken } from '../src/infra/auth/tokens.js';
import { ROOT } from '../test/helpers/server-process.js';
import { dropDatabases, freshDatabase, memoryOf, report, type Row } from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const WARMUP_S = 3;

async function load(url: string, headers: Record<string, string>, seconds: number) {
  return autocannon({ url, connections: 50, duration: seconds, headers });
}

export async function authBench(): Promise<void> {
  const url = await freshDatabase('auth');
  await migrate(url);
  const token = newToken();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("INSERT INTO regions (code, name, level) VALUES ('01', 'DTTO. CAPITAL', 'state')");
  const { rows } = await client.query<{ id: string }>("INSERT INTO users (id, name, role) VALUES (gen_random_uuid(), 'Bench analyst', 'analyst') RETURNING id");
  await client.query('INSERT INTO api_tokens (id, user_id, hash, prefix) VALUES (gen_random_uuid(), $1, $2, $3)', [rows[0]!.id, token.hash, token.prefix]);
  await client.end();

  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/auth-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent', RATE_LIMIT_PER_TOKEN: '0', RATE_LIMIT_PER_IP: '0', MAX_EVENT_LOOP_DELAY_MS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const base = (JSON.parse(String(line)) as { url: string }).url;
    const auth = { authorization: `Bearer ${token.secret}` };
    const table: Row[] = [];
    for (const [name, path, headers] of [
      ['GET without authentication (baseline)', '/bench/open', {}],
      ['GET with a bearer token', '/bench/authenticated', auth],
    ] as const) {
      await load(`${base}${path}`, headers, WARMUP_S);
      const result = await load(`${base}${path}`, headers, DURATION_S);
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      table.push({
        case: name, 'req/s': Math.round(result.requests.average), 'p50 ms': result.latency.p50, 'p99 ms': result.latency.p99,
        'server RSS MB': memoryOf(child.pid!).rssMb,
      });
    }
    const [open, closed] = table as [Row, Row];
    const ratio = (closed['req/s'] as number) / (open['req/s'] as number);
    await report('auth', `Authentication cost (50 connections, ${DURATION_S} s each after ${WARMUP_S} s warm-up)`, table, [
      `authenticated/unauthenticated throughput: ${ratio.toFixed(2)}; the token check is one indexed query (token hash join user) per request`,
    ]);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit').catch(() => undefined);
    await dropDatabases();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await authBench();
