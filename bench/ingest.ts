// Report ingest: POST /v1/reports of the built server (admin bearer token, full validation, national 2024
// registry imported through the API, election with its 10 candidates set), every request a new report
// (fresh uuid, `voting` and `results` alternating, results on real centre/table pairs with consistent
// tallies), next to the baseline of PERF-NOTES.md (bench/baseline-server.ts: bare Fastify + pg Pool,
// one INSERT per request, no auth, no validation) and to POST /v1/reports/batch with 500 new reports
// per request. 50 connections, interleaved rounds, the median round shown.   npm run bench -- ingest
//
// BENCH_ROUNDS, BENCH_DURATION_S, BENCH_BATCHES (batches per round), BENCH_BATCH_CONCURRENCY (default 1) tune it;
// BENCH_CPU_PROF_DIR=dir profiles the Testigo server (V8 sampling profiler, like `node --cpu-prof`) into dir.
// BENCH_WITHOUT_SUMMARIES=1 disables the summary triggers on reports for the run (to measure what they cost;
// the summaries are then wrong for that database, which is dropped afterwards); BENCH_DISABLE_TRIGGERS=table.trigger,…
// disables any others the same way (e.g. log_leaves.log_leaves_analysis, report_revisions.report_revisions_log).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import {
  adminHeaders,
  ensureBuilt,
  killAllServers,
  ROOT,
  startServer,
  within,
} from '../test/helpers/server-process.js';
import { type ForeignCpu, foreignCpu } from './foreign-cpu.js';
import {
  CANDIDATES,
  dropDatabases,
  freshDatabase,
  memoryOf,
  nationalRegistry,
  type Row,
  report,
  setUpElection,
} from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const WARMUP_S = 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCHES_PER_ROUND = Number(process.env.BENCH_BATCHES ?? 3);
const CONNECTIONS = 50;
const BATCH_SIZE = 500;
const BATCH_CONCURRENCY = Number(process.env.BENCH_BATCH_CONCURRENCY ?? 1);

/** Share of the valid votes per candidate, in %, in the order above (sums to 100). */
const SHARES = [40, 30, 6, 5, 4, 4, 4, 3, 2, 2];

interface PollingTable {
  centre: string;
  number: number;
  voters: number;
}
interface NewReport {
  id: string;
  kind: 'voting' | 'results';
  centreCode: string;
  table: number;
  observedAt: string;
  answers: Record<string, unknown>;
  notes?: string;
}

/** A tally sheet that passes every plausibility rule, the same for every report on one table (so no conflicts). */
function tally(table: PollingTable): Record<string, unknown> {
  const validVotes = Math.floor(table.voters * 0.55);
  const votes: Record<string, number> = {};
  let rest = validVotes;
  CANDIDATES.forEach(([code], i) => {
    votes[code] = i === 0 ? 0 : Math.floor((validVotes * SHARES[i]!) / 100);
    rest -= votes[code]!;
  });
  votes.EG = rest;
  return {
    registeredVoters: table.voters,
    validVotes,
    nullVotes: Math.floor(table.voters * 0.02),
    blankVotes: 0,
    votes,
    citizenAudit: true,
  };
}

/** New reports, `voting` and `results` alternating; results walk the registry's tables in order. */
function reportSource(tables: PollingTable[]): () => NewReport {
  let n = 0;
  let next = 0;
  return () => {
    n += 1;
    const table = tables[next++ % tables.length]!;
    const observedAt = new Date(Date.now() - 60_000).toISOString();
    if (n % 2 === 0)
      return {
        id: randomUUID(),
        kind: 'results',
        centreCode: table.centre,
        table: table.number,
        observedAt,
        answers: tally(table),
      };
    return {
      id: randomUUID(),
      kind: 'voting',
      centreCode: table.centre,
      table: table.number,
      observedAt,
      answers: {
        queueLength: 'short',
        waitingMinutes: n % 90,
        assistedVotingProblems: false,
        identificationProblems: false,
        securityForces: 'appropriate',
        propagandaNearby: false,
      },
      notes: 'Cola ordenada, sin incidencias',
    };
  };
}

/** One autocannon run of new reports against `path`; throws on any error, timeout or status other than 201. */
async function load(
  base: string,
  path: string,
  headers: Record<string, string>,
  seconds: number,
  next: () => NewReport,
): Promise<autocannon.Result> {
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', ...headers },
        setupRequest: (request) => ({ ...request, body: JSON.stringify(next()) }),
      },
    ],
  });
  const statuses = Object.entries(result.statusCodeStats ?? {}).map(
    ([status, stats]) => `${status}: ${(stats as { count: number }).count}`,
  );
  if (
    result.non2xx > 0 ||
    result.errors > 0 ||
    result.timeouts > 0 ||
    statuses.some((status) => !status.startsWith('201:'))
  ) {
    // One more request, to show what the server answers.
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(next()),
    }).catch((error: Error) => error);
    const sample =
      response instanceof Error ? String(response) : `${response.status} ${(await response.text()).slice(0, 1000)}`;
    throw new Error(
      `POST ${path}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts (status codes ${statuses.join(', ')}); a request now: ${sample}`,
    );
  }
  return result;
}

/** `count` batches of BATCH_SIZE new reports, `concurrency` at a time; throws unless every report is created. */
async function batches(
  base: string,
  count: number,
  concurrency: number,
  next: () => NewReport,
): Promise<{ seconds: number; latencies: number[] }> {
  const bodies = Array.from({ length: count }, () =>
    JSON.stringify({ reports: Array.from({ length: BATCH_SIZE }, next) }),
  );
  const latencies: number[] = [];
  const started = performance.now();
  let taken = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (taken < bodies.length) {
        const body = bodies[taken++]!;
        const sent = performance.now();
        const response = await fetch(`${base}/v1/reports/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...adminHeaders },
          body,
          signal: AbortSignal.timeout(120_000),
        });
        const json = (await response.json()) as {
          created?: number;
          failed?: number;
          results?: { status: string; problem?: unknown }[];
        };
        latencies.push(performance.now() - sent);
        if (response.status !== 200 || json.created !== BATCH_SIZE) {
          const problem = json.results?.find((result) => result.status !== 'created') ?? json;
          throw new Error(
            `POST /v1/reports/batch: ${response.status}, ${json.created} of ${BATCH_SIZE} created; ${JSON.stringify(problem).slice(0, 1000)}`,
          );
        }
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const median = <T>(values: T[], by: (value: T) => number) =>
  [...values].sort((a, b) => by(a) - by(b))[Math.floor(values.length / 2)]!;

/**
 * The log after the load: waits for its queue to drain, then the entries integrated per second (leaves over the
 * time from the first queued row to the last integration) and the checkpoint lag, from each row's commit (its
 * queueing, in its transaction) to the first signed checkpoint that includes it.
 */
async function logFigures(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + 120_000;
    while ((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM log_pending')).rows[0]!.n > 0) {
      if (Date.now() > deadline) throw new Error('the log queue did not drain within 2 minutes');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const { rows } = await client.query<{ entries: number; seconds: number; p50: number; p99: number }>(`
      SELECT count(*)::int AS entries,
             extract(epoch FROM max(l.integrated_at) - min(l.queued_at))::float8 AS seconds,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY lag)::float8 AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)::float8 AS p99
      FROM (SELECT l.*, extract(epoch FROM c.created_at - l.queued_at) * 1000 AS lag
            FROM log_leaves l
            CROSS JOIN LATERAL (SELECT created_at FROM log_checkpoints c WHERE c.size > l.idx ORDER BY c.size LIMIT 1) c) l`);
    const figures = rows[0]!;
    return {
      entries: figures.entries,
      entriesPerSecond: figures.entries / figures.seconds,
      lagP50: figures.p50,
      lagP99: figures.p99,
    };
  } finally {
    await client.end();
  }
}

export async function ingestBench(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  await ensureBuilt();
  const registry = nationalRegistry();
  const tables: PollingTable[] = (
    parse(registry, { columns: true, bom: true, trim: true }) as Record<string, string>[]
  ).map((row) => ({
    centre: row.centre_code!,
    number: Number(row.table_number),
    voters: Number(row.registered_voters),
  }));
  const next = reportSource(tables);
  const url = await freshDatabase('ingest');
  const profileDir = process.env.BENCH_CPU_PROF_DIR;
  const server = startServer({
    DATABASE_URL: url,
    // One token sends thousands of requests a second here: lift the per-token and per-IP limits (the limiter still runs).
    RATE_LIMIT_PER_TOKEN: '0',
    RATE_LIMIT_PER_IP: '0',
    // Node 20 refuses --cpu-prof in NODE_OPTIONS; bench/cpu-profile.mjs does the same from a preload.
    ...(profileDir
      ? { NODE_OPTIONS: `--import ${join(ROOT, 'bench', 'cpu-profile.mjs')}`, CPU_PROFILE_DIR: profileDir }
      : {}),
  });
  let baseline: ReturnType<typeof spawn> | undefined;
  try {
    const base = await server.listening();
    await setUpElection(base, registry);
    const withoutSummaries = process.env.BENCH_WITHOUT_SUMMARIES === '1';
    const disabled = [
      ...(withoutSummaries ? ['reports.reports_summaries_insert', 'reports.reports_summaries_update'] : []),
      ...(process.env.BENCH_DISABLE_TRIGGERS ?? '').split(',').filter(Boolean),
    ];
    if (disabled.length > 0) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      for (const name of disabled) {
        const [table, trigger] = name.split('.');
        await admin.query(
          `ALTER TABLE ${pg.escapeIdentifier(table!)} DISABLE TRIGGER ${pg.escapeIdentifier(trigger!)}`,
        );
      }
      await admin.end();
    }
    // The server logs at info (its default: three lines per report); from here on its output is drained
    // and counted, not parsed, so that the load generator shares its core with as little else as possible.
    let logLines = 0;
    server.child.stdout!.removeAllListeners('data');
    server.child.stdout!.on('data', (chunk: string) => {
      for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) logLines += 1;
    });

    baseline = spawn(process.execPath, ['--import', 'tsx', 'bench/baseline-server.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await within(once(baseline.stdout!, 'data'), 30_000, 'the baseline server to listen')) as [Buffer];
    const baselineBase = (JSON.parse(String(line)) as { url: string }).url;

    type Single = {
      kind: 'single';
      name: string;
      base: string;
      path: string;
      headers: Record<string, string>;
      runs: (autocannon.Result & { foreign: ForeignCpu })[];
    };
    type Batch = { kind: 'batch'; name: string; runs: { seconds: number; latencies: number[]; foreign: ForeignCpu }[] };
    const database = new URL(url).pathname.slice(1);
    const testigo: Single = {
      kind: 'single',
      name: 'Testigo POST /v1/reports (admin token, validated)',
      base,
      path: '/v1/reports',
      headers: { ...adminHeaders },
      runs: [],
    };
    const bare: Single = {
      kind: 'single',
      name: 'baseline: bare Fastify 5 + pg INSERT (pool 10)',
      base: baselineBase,
      path: '/baseline/reports',
      headers: {},
      runs: [],
    };
    const batch: Batch = {
      kind: 'batch',
      name: `Testigo POST /v1/reports/batch (${BATCH_SIZE} per request, ${BATCH_CONCURRENCY === 1 ? 'sequential' : `${BATCH_CONCURRENCY} at a time`})`,
      runs: [],
    };
    const cases = [testigo, bare, batch];

    for (const c of cases) {
      if (c.kind === 'single') await load(c.base, c.path, c.headers, WARMUP_S, next);
      else await batches(base, BATCH_CONCURRENCY, BATCH_CONCURRENCY, next);
    }
    const counted = { testigo: 0, bare: 0 };
    // Interleaved rounds (A B C A B C …), so that drift on a noisy machine hits every case alike.
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const c of cases) {
        const foreign = foreignCpu(database, c === bare ? baseline?.pid : server.pid);
        if (c.kind === 'single') {
          const result = await load(c.base, c.path, c.headers, DURATION_S, next);
          c.runs.push(Object.assign(result, { foreign: foreign() }));
          if (c === testigo) counted.testigo += result['2xx'];
          else counted.bare += result['2xx'];
        } else {
          c.runs.push({ ...(await batches(base, BATCHES_PER_ROUND, BATCH_CONCURRENCY, next)), foreign: foreign() });
        }
        process.stderr.write('.');
      }
    }
    process.stderr.write('\n');
    const serverMemory = memoryOf(server.pid);

    /** CPU per report over all rounds: the server's and PostgreSQL's, in ms (a cost the machine's noise barely moves). */
    const cpuPerReport = (runs: { foreign: ForeignCpu }[], reports: number) => {
      const sum = (pick: (foreign: ForeignCpu) => number) => runs.reduce((total, run) => total + pick(run.foreign), 0);
      return `${(sum((f) => f.serverMs) / reports).toFixed(2)} + ${(sum((f) => f.databaseMs) / reports).toFixed(2)}`;
    };
    const othersCpu = (runs: { foreign: ForeignCpu }[]) =>
      runs.map((run) => Math.round(run.foreign.share * 100)).join(' / ');
    const busiest = cases.flatMap((c) => c.runs.map((run) => run.foreign)).sort((a, b) => b.share - a.share)[0]!;
    const singleRow = (c: Single): Row => {
      const m = median(c.runs, (run) => run.requests.average);
      return {
        case: c.name,
        'req/s': Math.round(m.requests.average),
        'reports/s': Math.round(m.requests.average),
        'p50 ms': m.latency.p50,
        'p99 ms': m.latency.p99,
        requests: c.runs.reduce((sum, run) => sum + run['2xx'], 0),
        'non-2xx': c.runs.reduce((sum, run) => sum + run.non2xx + run.errors, 0),
        'rounds reports/s': c.runs.map((run) => Math.round(run.requests.average)).join(' / '),
        "others' CPU %": othersCpu(c.runs),
        'CPU ms/report server + db': cpuPerReport(
          c.runs,
          c.runs.reduce((sum, run) => sum + run['2xx'], 0),
        ),
      };
    };
    const rate = (run: { seconds: number; latencies: number[] }) => (run.latencies.length * BATCH_SIZE) / run.seconds;
    const batchRow = (c: Batch): Row => {
      const m = median(c.runs, rate);
      const latencies = c.runs.flatMap((run) => run.latencies);
      return {
        case: c.name,
        'req/s': m.latencies.length / m.seconds,
        'reports/s': Math.round(rate(m)),
        'p50 ms': Math.round(percentile(latencies, 50)),
        'p99 ms': Math.round(percentile(latencies, 99)),
        requests: latencies.length,
        'non-2xx': 0,
        'rounds reports/s': c.runs.map((run) => Math.round(rate(run))).join(' / '),
        "others' CPU %": othersCpu(c.runs),
        'CPU ms/report server + db': cpuPerReport(c.runs, latencies.length * BATCH_SIZE),
      };
    };
    const rows = [singleRow(testigo), singleRow(bare), batchRow(batch)];
    const floor = rows[1]!['reports/s'] as number;
    for (const row of rows) row['vs baseline'] = (row['reports/s'] as number) / floor;
    const log = await logFigures(url);
    rows.push({
      case: 'log: entries integrated (checkpoint lag: commit → in a signed checkpoint)',
      'req/s': '',
      'reports/s': Math.round(log.entriesPerSecond),
      'p50 ms': Math.round(log.lagP50),
      'p99 ms': Math.round(log.lagP99),
      requests: log.entries,
      'non-2xx': '',
      'rounds reports/s': '',
      "others' CPU %": '',
      'CPU ms/report server + db': '',
      'vs baseline': '',
    });

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const {
      rows: [stored],
    } = await client.query<{ reports: number; flagged: number; baseline: number; audit: number }>(`
      SELECT (SELECT count(*)::int FROM reports) AS reports, (SELECT count(*)::int FROM reports WHERE cardinality(flags) > 0) AS flagged,
             (SELECT count(*)::int FROM baseline_reports) AS baseline, (SELECT count(*)::int FROM audit_entries WHERE action = 'report.accepted') AS audit`);
    await client.end();
    const batchReports = (BATCH_CONCURRENCY + ROUNDS * BATCHES_PER_ROUND) * BATCH_SIZE;
    if (
      stored!.reports < counted.testigo + batchReports ||
      stored!.audit !== stored!.reports ||
      stored!.baseline < counted.bare
    ) {
      throw new Error(
        `stored rows do not match the answers: ${JSON.stringify(stored)}, counted ${JSON.stringify(counted)} + ${batchReports} batch reports`,
      );
    }
    await report(
      'ingest',
      `Report ingest (new reports; ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION_S} s after ${WARMUP_S} s warm-ups, median round shown)`,
      rows,
      [
        `batch: ${BATCHES_PER_ROUND} batches of ${BATCH_SIZE} per round, ${BATCH_CONCURRENCY} at a time, after a warm-up; its p50/p99 are per batch request over all ${ROUNDS * BATCHES_PER_ROUND}`,
        `stored: ${stored!.reports.toLocaleString('en-US')} reports (${stored!.flagged} flagged), ${stored!.audit.toLocaleString('en-US')} report.accepted audit rows, ` +
          `${stored!.baseline.toLocaleString('en-US')} baseline rows; measured rounds counted ${counted.testigo.toLocaleString('en-US')} + ${counted.bare.toLocaleString('en-US')} 201s, ` +
          `plus warm-ups and ${batchReports.toLocaleString('en-US')} batch reports`,
        `Testigo server: LOG_LEVEL=info (${logLines.toLocaleString('en-US')} log lines during the load), rate limits lifted, RSS at the end ${serverMemory.rssMb.toFixed(0)} MB (peak ${serverMemory.peakMb.toFixed(0)} MB)`,
        `others' CPU: share of the ${availableParallelism()} cores used by processes outside the benchmark in each round (1-minute load average before the run ${loadBefore.toFixed(2)}); ` +
          (busiest.share > 0.1
            ? `WARNING: up to ${Math.round(busiest.share * 100)} %${busiest.top ? `, mostly ${busiest.top}` : ''} — those rounds ran on a busy machine, rerun when it is quiet`
            : 'the machine was otherwise quiet'),
        'registry: national 2024 (24,532 tables) imported through POST /v1/registry/import; election: PUT /v1/election with EG NM LM JABE JOBR AE CF DC EM BERA',
        'log: entries/s is every leaf over the time from the first queued row to the last integration (the integrator ' +
          'keeps pace with the load, so this is the ingest rate it sustained, not its ceiling); its p50/p99 are the ' +
          'checkpoint lag of every entry',
        disabled.length > 0
          ? `WITHOUT the triggers ${disabled.join(', ')} (BENCH_WITHOUT_SUMMARIES / BENCH_DISABLE_TRIGGERS): a diagnostic run, not the product`
          : "with the summary triggers (every report updates its regions' tallies in its transaction)",
      ],
    );
  } finally {
    if (baseline && baseline.exitCode === null) {
      baseline.kill('SIGTERM');
      await once(baseline, 'exit').catch(() => undefined);
    }
    await server.stop().catch(() => killAllServers());
    await dropDatabases();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await ingestBench();
