// Report export: GET /v1/reports/export?format=csv and ?format=ndjson of the built server over N reports
// (default 1,000,000; BENCH_EXPORT_ROWS=100000 or a list, BENCH_EXPORT_ROWS=100000,1000000, to run several
// sizes on one growing table), each read to the end by fetch in this process (bytes and lines counted, the
// body never held) while the server's RSS is sampled every 100 ms. The reports are inserted with SQL
// (INSERT … SELECT generate_series: results with votes for the 10 candidates on real centre/table pairs,
// voting, incidents, opening, closing, arrival), on the national 2024 registry imported through the API and
// an election set with PUT /v1/election. Baseline: psql's \copy of the same table as CSV, to /dev/null and
// in the API's order into this process.   npm run bench -- export
//
// BENCH_CPU_PROF_DIR=dir profiles the export server (V8 sampling profiler, bench/cpu-profile.mjs) into dir.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { INCIDENT_CATEGORIES } from '../src/features/reports/forms.js';
import {
  adminHeaders,
  ensureBuilt,
  killAllServers,
  ROOT,
  type ServerProcess,
  startServer,
  waitForOk,
} from '../test/helpers/server-process.js';
import { type ForeignCpu, foreignCpu } from './foreign-cpu.js';
import { dropDatabases, freshDatabase, memoryOf, nationalRegistry, type Row, report, setUpElection } from './lib.js';

const SIZES = (process.env.BENCH_EXPORT_ROWS ?? '1000000')
  .split(',')
  .map((size) => Number(size.trim()))
  .filter((size) => size > 0)
  .sort((a, b) => a - b);
const INSERT_CHUNK = 250_000;

/**
 * Reports `from`..`to` (1-based, so sizes grow one table). Kind by i % 20: 8 results, 7 voting, 2 incident,
 * 1 each opening, closing, arrival. Results split the table's valid votes 40/30/6/5/4/4/4/3/2/2 %, EG taking
 * the rounding rest, so the sums hold. received_at is distinct (10 ms apart); no value holds a line break.
 */
const INSERT_SQL = `
WITH t AS (
  SELECT (row_number() OVER (ORDER BY pt.centre_code, pt.number))::int - 1 AS k, pt.centre_code, pt.number, pt.registered_voters AS voters,
         c.parish_code, c.municipality_code, c.state_code
  FROM polling_tables pt JOIN centres c ON c.code = pt.centre_code),
s AS (
  SELECT g.i, g.i % 20 AS m, t.*, (t.voters * 55 / 100) AS valid,
         timestamptz '2024-07-28 06:00:00-04' + g.i * interval '10 milliseconds' AS received
  FROM generate_series($1::int, $2::int) AS g(i) JOIN t ON t.k = g.i % $3::int),
v AS (
  SELECT s.*, valid * 30 / 100 AS nm, valid * 6 / 100 AS lm, valid * 5 / 100 AS jabe, valid * 4 / 100 AS four, valid * 3 / 100 AS dc,
         valid * 2 / 100 AS two
  FROM s)
INSERT INTO reports (id, kind, centre_code, table_number, parish_code, municipality_code, state_code, observer_id, observed_at, received_at,
                     form_version, answers, notes, latitude, longitude, accuracy, submission_hash, content_hash, revision, review_state, flags, updated_at)
SELECT md5('report-' || i)::uuid,
  (CASE WHEN m < 8 THEN 'results' WHEN m < 15 THEN 'voting' WHEN m < 17 THEN 'incident' WHEN m = 17 THEN 'opening' WHEN m = 18 THEN 'closing' ELSE 'arrival' END)::report_kind,
  centre_code, CASE WHEN m IN (15, 16, 19) THEN NULL ELSE number END, parish_code, municipality_code, state_code, $4::uuid,
  received - make_interval(secs => i % 600), received, 1,
  CASE
    WHEN m < 8 THEN jsonb_build_object('registeredVoters', voters, 'validVotes', valid, 'nullVotes', voters * 2 / 100, 'blankVotes', voters / 100,
      'votes', jsonb_build_object('EG', valid - nm - lm - jabe - 3 * four - dc - 2 * two, 'NM', nm, 'LM', lm, 'JABE', jabe, 'JOBR', four, 'AE', four,
        'CF', four, 'DC', dc, 'EM', two, 'BERA', two),
      'citizenAudit', i % 3 <> 0)
    WHEN m < 15 THEN jsonb_build_object('queueLength', (ARRAY['none', 'short', 'medium', 'long'])[1 + i % 4], 'waitingMinutes', i % 90,
      'assistedVotingProblems', i % 7 = 0, 'identificationProblems', i % 11 = 0,
      'securityForces', (ARRAY['absent', 'appropriate', 'intimidating', 'interfering'])[1 + i % 4], 'propagandaNearby', i % 5 = 0)
      || CASE WHEN i % 4 = 0 THEN jsonb_build_object('comments', 'Cola larga, "testigos" de mesa presentes') ELSE '{}'::jsonb END
    WHEN m < 17 THEN jsonb_build_object('category', ($5::text[])[1 + i % 15], 'severity', (ARRAY['low', 'medium', 'high', 'critical'])[1 + i % 4],
      'description', 'Grupo de personas en la entrada, interfiriendo con "el paso" de los electores; se avisó al Plan República', 'ongoing', i % 2 = 0)
    WHEN m = 17 THEN jsonb_build_object('openedAt', '06:' || lpad((i % 60)::text, 2, '0'), 'tableStaffComplete', i % 9 <> 0,
      'zeroReportPrinted', true, 'witnessesPresent', jsonb_build_array('EG', 'NM', 'LM'))
    WHEN m = 18 THEN jsonb_build_object('closedAt', '18:' || lpad((i % 60)::text, 2, '0'), 'votersInLineAllowed', i % 6 <> 0, 'votersInLineAtClose', i % 40)
    ELSE jsonb_build_object('accessGranted', i % 10 <> 9) || CASE WHEN i % 10 = 9 THEN jsonb_build_object('deniedReason', 'El coordinador del centro negó el acceso') ELSE '{}'::jsonb END
  END,
  CASE WHEN m BETWEEN 8 AND 14 THEN 'Cola ordenada, sin incidencias' WHEN m IN (15, 16) THEN 'Reportado por el testigo, con foto' END,
  CASE WHEN i % 2 = 0 THEN 10.4 + (i % 1000) / 10000.0 END, CASE WHEN i % 2 = 0 THEN -66.9 - (i % 977) / 10000.0 END,
  CASE WHEN i % 4 = 0 THEN 5 + i % 30 END,
  md5(i::text) || md5(i::text), md5(i::text) || md5(i::text), 1,
  (CASE WHEN i % 13 = 0 THEN 'verified' ELSE 'unreviewed' END)::review_state,
  CASE WHEN m < 8 AND i % 101 = 0 THEN ARRAY['conflict'] ELSE ARRAY[]::text[] END,
  received
FROM v`;

interface Measured {
  rows: number;
  seconds: number;
  bytes: number | undefined;
  lines: number;
  first: string;
  idleMb: number;
  peakMb: number;
  cpu: Cpu;
  foreign: ForeignCpu;
}
/** CPU seconds; `gone`: of processes that exited meanwhile (psql, its backend), which foreignCpu() cannot tell from others. */
interface Cpu {
  server: number;
  postgres: number;
  client: number;
  gone: number;
}

/** CPU seconds (user + system) of a process, from /proc; with `children`, those of its reaped children instead. */
function cpuSeconds(pid: number | 'self', children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return children ? (Number(fields[13]) + Number(fields[14])) / 100 : (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of every PostgreSQL backend of `database` (by /proc pid → seconds, to diff). */
function postgresCpu(database: string): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.startsWith('postgres: ') && cmdline.split(' ').includes(database))
        cpu.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // exited meanwhile
    }
  }
  return cpu;
}

/**
 * Starts CPU accounting of the server, the database's backends and the client side (this process plus the
 * children it reaped meanwhile: psql). sample() (every 100 ms) keeps each backend's last figure, so that a
 * backend that exits before the end (psql's) still counts, less its last 100 ms; done() returns the deltas.
 */
function cpuMeter(serverPid: number | undefined, database: string): { sample(): void; done(): Cpu } {
  const server = serverPid ? cpuSeconds(serverPid) : 0;
  const before = postgresCpu(database);
  const last = new Map(before);
  const client = process.cpuUsage();
  const reaped = cpuSeconds('self', true);
  const sample = () => {
    for (const [pid, seconds] of postgresCpu(database)) last.set(pid, seconds);
  };
  return {
    sample,
    done() {
      const alive = postgresCpu(database);
      for (const [pid, seconds] of alive) last.set(pid, seconds);
      let pgSeconds = 0;
      let gone = cpuSeconds('self', true) - reaped;
      for (const [pid, seconds] of last) {
        pgSeconds += seconds - (before.get(pid) ?? 0);
        if (!alive.has(pid)) gone += seconds - (before.get(pid) ?? 0);
      }
      const own = process.cpuUsage(client);
      return {
        server: serverPid ? cpuSeconds(serverPid) - server : 0,
        postgres: pgSeconds,
        client: (own.user + own.system) / 1e6 + cpuSeconds('self', true) - reaped,
        gone,
      };
    },
  };
}

/** Counts bytes and line feeds of a byte stream without keeping it; keeps the first line (up to 2 KB) and the end (the last line) to check. */
function counter() {
  let bytes = 0;
  let lines = 0;
  let first = '';
  let firstDone = false;
  let tail = '';
  return {
    add(chunk: Uint8Array) {
      const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      bytes += buffer.length;
      tail = (tail + buffer.toString('latin1', Math.max(0, buffer.length - 4096))).slice(-4096);
      if (!firstDone) {
        const end = buffer.indexOf(10);
        first += buffer.toString('utf8', 0, end === -1 ? Math.min(buffer.length, 2048) : end);
        firstDone = end !== -1 || first.length >= 2048;
      }
      for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) lines += 1;
    },
    get: () => ({
      bytes,
      lines,
      first: first.replace(/\r$/, ''),
      last:
        tail
          .replace(/\r?\n$/, '')
          .split('\n')
          .at(-1) ?? '',
    }),
  };
}

/** The foreign share less what exited processes of ours used (foreignCpu() counts those as foreign). */
function othersShare(foreign: ForeignCpu, cpu: Cpu, seconds: number): ForeignCpu {
  return { ...foreign, share: Math.max(0, foreign.share - cpu.gone / (seconds * availableParallelism())) };
}

async function exportOnce(
  base: string,
  server: ServerProcess,
  database: string,
  format: 'csv' | 'ndjson',
  rows: number,
): Promise<Measured> {
  // Let the previous run's garbage settle before reading the idle figure.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const idleMb = memoryOf(server.pid).rssMb;
  let peakMb = idleMb;
  const meter = cpuMeter(server.pid, database);
  const foreign = foreignCpu(database);
  const sampler = setInterval(() => {
    peakMb = Math.max(peakMb, memoryOf(server.pid).rssMb);
    meter.sample();
  }, 100);
  const count = counter();
  const started = performance.now();
  try {
    const response = await fetch(`${base}/v1/reports/export?format=${format}`, { headers: adminHeaders });
    if (response.status !== 200 || !response.body)
      throw new Error(`GET /v1/reports/export?format=${format}: ${response.status} ${await response.text()}`);
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      count.add(value);
    }
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  peakMb = Math.max(peakMb, memoryOf(server.pid).rssMb);
  const { bytes, lines, first, last } = count.get();
  // CSV: a header and the rows; NDJSON: the rows and the final {"complete":true,"rows":N}.
  const expected = rows + 1;
  if (lines !== expected) throw new Error(`${format} export: ${lines} lines, expected ${expected}`);
  if (format === 'ndjson' && last !== JSON.stringify({ complete: true, rows }))
    throw new Error(`ndjson export: unexpected last line ${last.slice(0, 200)}`);
  if (format === 'csv' && !first.startsWith('id,kind,centre_code,'))
    throw new Error(`csv export: unexpected header ${first.slice(0, 200)}`);
  if (format === 'ndjson' && typeof (JSON.parse(first) as { id?: unknown }).id !== 'string')
    throw new Error(`ndjson export: unexpected first line ${first.slice(0, 200)}`);
  const others = foreign();
  const cpu = meter.done();
  return { rows, seconds, bytes, lines, first, idleMb, peakMb, cpu, foreign: othersShare(others, cpu, seconds) };
}

/** psql's \copy of `query` as CSV, stdout to /dev/null or counted in this process. */
async function psqlCopy(
  url: string,
  database: string,
  query: string,
  into: 'devnull' | 'counted',
  rows: number,
): Promise<Measured> {
  const devnull = into === 'devnull' ? openSync('/dev/null', 'w') : undefined;
  const meter = cpuMeter(undefined, database);
  const foreign = foreignCpu(database);
  const count = counter();
  const started = performance.now();
  const child = spawn(
    'psql',
    [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy (${query}) TO STDOUT WITH CSV HEADER`],
    {
      stdio: ['ignore', devnull ?? 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout?.on('data', (chunk: Buffer) => count.add(chunk));
  const sampler = setInterval(() => meter.sample(), 100);
  const [code] = (await once(child, 'close').finally(() => clearInterval(sampler))) as [number | null];
  const seconds = (performance.now() - started) / 1000;
  if (devnull !== undefined) closeSync(devnull);
  const others = foreign();
  const cpu = meter.done();
  if (code !== 0) throw new Error(`psql \\copy exited ${code}: ${stderr}`);
  const { bytes, lines, first } = count.get();
  if (into === 'counted' && lines !== rows + 1) throw new Error(`psql \\copy: ${lines} lines, expected ${rows + 1}`);
  return {
    rows,
    seconds,
    bytes: into === 'counted' ? bytes : undefined,
    lines,
    first,
    idleMb: NaN,
    peakMb: NaN,
    cpu,
    foreign: othersShare(others, cpu, seconds),
  };
}

export async function exportBench(): Promise<void> {
  if (SIZES.length === 0) throw new Error('BENCH_EXPORT_ROWS: no size');
  await ensureBuilt();
  const registry = nationalRegistry();
  const url = await freshDatabase('export');
  const database = new URL(url).pathname.slice(1);
  const rows: Row[] = [];
  const notes: string[] = [];
  const client = new pg.Client({ connectionString: url });
  try {
    // Setup through the API: the server migrates at start, bootstraps the admin, imports the registry, sets the election.
    const setup = startServer({ DATABASE_URL: url });
    const setupBase = await setup.listening();
    await setUpElection(setupBase, registry);
    await setup.stop();

    await client.connect();
    const {
      rows: [admin],
    } = await client.query<{ id: string }>("SELECT id FROM users WHERE role = 'admin' LIMIT 1");
    const {
      rows: [tables],
    } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM polling_tables');
    if (!admin || !tables || tables.n === 0) throw new Error('setup: no admin user or no polling tables');

    let inserted = 0;
    for (const size of SIZES) {
      // Grow the table to `size` reports (a chunk per statement), then vacuum and analyze it as a settled table would be.
      const insertStarted = performance.now();
      while (inserted < size) {
        const to = Math.min(size, inserted + INSERT_CHUNK);
        await client.query(INSERT_SQL, [inserted + 1, to, tables.n, admin.id, [...INCIDENT_CATEGORIES]]);
        inserted = to;
        process.stderr.write(`inserted ${inserted.toLocaleString('en-US')} reports\n`);
      }
      await client.query('VACUUM ANALYZE reports');
      const {
        rows: [stats],
      } = await client.query<{ n: number; size: string; kinds: string }>(`
        SELECT (SELECT count(*)::int FROM reports) AS n, pg_size_pretty(pg_total_relation_size('reports')) AS size,
               (SELECT string_agg(kind || ' ' || c, ', ' ORDER BY c DESC) FROM (SELECT kind::text, count(*) AS c FROM reports GROUP BY kind) k) AS kinds`);
      if (stats!.n !== size) throw new Error(`reports: ${stats!.n} rows, expected ${size}`);
      notes.push(
        `${size.toLocaleString('en-US')} reports (${stats!.kinds}; table with indexes ${stats!.size}) inserted with SQL and vacuumed in ` +
          `${((performance.now() - insertStarted) / 1000).toFixed(1)} s`,
      );

      // Baseline first, which also brings the table into the page cache for the API's runs.
      const add = (name: string, m: Measured) => {
        rows.push({
          case: name,
          rows: m.rows,
          seconds: m.seconds,
          'rows/s': Math.round(m.rows / m.seconds),
          'MB out': m.bytes === undefined ? '' : m.bytes / 1e6,
          'RSS idle MB': Number.isNaN(m.idleMb) ? '' : m.idleMb,
          'RSS peak MB': Number.isNaN(m.peakMb) ? '' : m.peakMb,
          'CPU s server/pg/client': `${m.cpu.server.toFixed(1)} / ${m.cpu.postgres.toFixed(1)} / ${m.cpu.client.toFixed(1)}`,
          "others' CPU %": Math.round(m.foreign.share * 100),
        });
        if (m.foreign.share > 0.1)
          notes.push(
            `WARNING: ${name}, ${size.toLocaleString('en-US')} rows, ran on a busy machine (${Math.round(m.foreign.share * 100)} % of the cores${m.foreign.top ? `, mostly ${m.foreign.top}` : ''}); rerun when it is quiet`,
          );
      };
      add(
        'baseline: psql \\copy (SELECT * FROM reports) CSV → /dev/null',
        await psqlCopy(url, database, 'SELECT * FROM reports', 'devnull', size),
      );
      add(
        'baseline: psql \\copy, API order (received_at, id DESC), counted here',
        await psqlCopy(url, database, 'SELECT * FROM reports ORDER BY received_at DESC, id DESC', 'counted', size),
      );

      // A fresh server per size, so that its idle RSS is comparable across sizes.
      const profileDir = process.env.BENCH_CPU_PROF_DIR;
      const server = startServer({
        DATABASE_URL: url,
        ...(profileDir
          ? { NODE_OPTIONS: `--import ${join(ROOT, 'bench', 'cpu-profile.mjs')}`, CPU_PROFILE_DIR: profileDir }
          : {}),
      });
      const base = await server.listening();
      await waitForOk(`${base}/readyz`, 30_000);
      add('Testigo GET /v1/reports/export?format=csv', await exportOnce(base, server, database, 'csv', size));
      add('Testigo GET /v1/reports/export?format=ndjson', await exportOnce(base, server, database, 'ndjson', size));
      notes.push(
        `server after the ${size.toLocaleString('en-US')}-row exports: RSS ${memoryOf(server.pid).rssMb.toFixed(0)} MB, VmHWM ${memoryOf(server.pid).peakMb.toFixed(0)} MB`,
      );
      await server.stop();
    }

    await report(
      'export',
      'Report export (GET /v1/reports/export, built server, fetch reading the body to the end in the bench process)',
      rows,
      [
        ...notes,
        'RSS: the server process, sampled every 100 ms during each export (idle = 1.5 s before it starts; a fresh server per size, csv first, then ndjson)',
        "CPU s: user+system seconds of the server process / the database's PostgreSQL backends / the client (this bench process: fetch and line counting; for the baselines also psql itself)",
        "line counts checked: CSV = rows + 1 header, NDJSON = rows; the baseline is PostgreSQL's COPY with no JSON, no ISO dates, no flattening of answers",
        `machine: ${availableParallelism()} cores shared by PostgreSQL, the server and the reading client; others' CPU = share of them used by anything else during the row (bench/foreign-cpu.ts)`,
      ],
    );
  } finally {
    await client.end().catch(() => undefined);
    await killAllServers();
    await dropDatabases();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await exportBench();
