// Cost of authentication per request: the same GET (one region read) public and behind a bearer token,
// against the same server process, 50 connections each, one after the other.   npm run bench -- auth
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import autocannon from 'autocannon';
import pg from 'pg';
import { newToken } from '../src/infra/auth/tokens.js';
import { migrate } from '../src/infra/db/migrator.js';
import { ROOT } from '../test/helpers/server-process.js';
import { dropDatabases, freshDatabase, memoryOf, type Row, report } from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 6);
const WARMUP_S = 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

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
  const { rows } = await client.query<{ id: string }>(
    "INSERT INTO users (id, name, role) VALUES (gen_random_uuid(), 'Bench analyst', 'analyst') RETURNING id",
  );
  await client.query('INSERT INTO api_tokens (id, user_id, hash, prefix) VALUES (gen_random_uuid(), $1, $2, $3)', [
    rows[0]!.id,
    token.hash,
    token.prefix,
  ]);
  await client.end();

  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/auth-server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: url,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_TOKEN: '0',
      RATE_LIMIT_PER_IP: '0',
      MAX_EVENT_LOOP_DELAY_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const base = (JSON.parse(String(line)) as { url: string }).url;
    const auth = { authorization: `Bearer ${token.secret}` };
    const cases = [
      ['GET without authentication (baseline)', '/bench/open', {}],
      ['GET with a bearer token', '/bench/authenticated', auth],
    ] as const;
    for (const [, path, headers] of cases) await load(`${base}${path}`, headers, WARMUP_S);
    // Interleaved rounds (A B A B …), so that drift on a noisy machine hits both alike; the median round counts.
    const results = new Map<string, autocannon.Result[]>(cases.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, path, headers] of cases) {
        const result = await load(`${base}${path}`, headers, DURATION_S);
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        results.get(name)!.push(result);
      }
    }
    const table: Row[] = cases.map(([name]) => {
      const runs = [...results.get(name)!].sort((a, b) => a.requests.average - b.requests.average);
      const median = runs[Math.floor(runs.length / 2)]!;
      return {
        case: name,
        'req/s': Math.round(median.requests.average),
        'p50 ms': median.latency.p50,
        'p99 ms': median.latency.p99,
        'rounds req/s': runs.map((run) => Math.round(run.requests.average)).join(' / '),
      };
    });
    const [open, closed] = table as [Row, Row];
    const ratio = (closed['req/s'] as number) / (open['req/s'] as number);
    await report(
      'auth',
      `Authentication cost (50 connections, ${ROUNDS} interleaved rounds of ${DURATION_S} s, median shown)`,
      table,
      [
        `authenticated/unauthenticated throughput: ${ratio.toFixed(2)} (server RSS at the end ${memoryOf(child.pid!).rssMb.toFixed(0)} MB)`,
        'a token is looked up once (hash join user), then served from the per-process cache that LISTEN/NOTIFY keeps exact',
      ],
    );
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit').catch(() => undefined);
    await dropDatabases();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await authBench();
