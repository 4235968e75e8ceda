// Reads never starve writes (issue 10, point 18), through the built server and real HTTP: on the national
// registry with REPORTS reports, 200 clients export reports (NDJSON, whole, again and again) and 200 read
// centre summaries of a parish (GET /v1/summaries?level=centre&parent=…, again and again), while observers
// POST reports at a steady pace. For LOAD_MS the POSTs must stay fast (p99 ≤ 500 ms) and never get a 5xx;
// every export answered 200 must be complete (it ends with {"complete":true,"rows":N}); the server's memory
// stays bounded. Readers refused with 503 SERVICE_OVERLOADED wait as Retry-After says (with jitter). Observers
// POST from a process of their own, so that what the readers' process does never delays their answers.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_REGISTRY } from '../../src/cli/registry-files.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { expectAcknowledgedStoredOnce, newStats, quantile } from '../helpers/phones.js';
import {
  adminHeaders,
  ensureBuilt,
  killAllServers,
  ROOT,
  run,
  type ServerProcess,
  startServer,
  TEST_ADMIN_TOKEN,
  waitForOk,
} from '../helpers/server-process.js';

const REPORTS = 6000;
const EXPORTERS = Number(process.env.FAULT_EXPORTERS ?? 200);
const SUMMARY_READERS = Number(process.env.FAULT_SUMMARY_READERS ?? 200);
const POSTS_PER_SECOND = 50;
const LOAD_MS = 25_000;
const BASELINE_MS = 8_000;
const WARM_UP_MS = 3_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let dataDir = '';
let server: ServerProcess;
let base = '';
let parishes: string[] = [];
let centres: string[] = [];

/** Resident memory of a process in MB, from /proc. */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** CPU seconds (user + system) of a process, from /proc. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const VOTING = {
  queueLength: 'short',
  waitingMinutes: 5,
  assistedVotingProblems: false,
  identificationProblems: false,
  securityForces: 'appropriate',
  propagandaNearby: false,
};

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-fault-reads-'));
  // LOG_LEVEL=warn: at info the server writes two log lines per request, thousands a second here, into a pipe
  // that this (busy) test process must read and parse; once that pipe is full the server's writes block it,
  // which would measure the test harness, not the server. A known port, since "Server listening" is an info line.
  const port = await freePort();
  server = startServer({
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    RATE_LIMIT_PER_TOKEN: '0',
    RATE_LIMIT_PER_IP: '0',
    LOG_LEVEL: 'warn',
    PORT: String(port),
  });
  base = `http://127.0.0.1:${port}`;
  await waitForOk(`${base}/readyz`, 30_000);
  const imported = await fetch(`${base}/v1/registry/import`, {
    method: 'POST',
    headers: { ...adminHeaders, 'content-type': 'text/csv' },
    body: gunzipSync(readFileSync(DEMO_REGISTRY)),
    signal: AbortSignal.timeout(120_000),
  });
  expect(imported.status, await imported.text()).toBe(200);
  // The reports the exports read, written with SQL (the summary triggers count them as any insert).
  const [admin] = await db.query<{ id: string }>("SELECT id FROM users WHERE role = 'admin' LIMIT 1");
  await db.query(
    `WITH c AS (SELECT code, parish_code, municipality_code, state_code, (row_number() OVER (ORDER BY code))::int - 1 AS k FROM centres),
          n AS (SELECT count(*)::int AS n FROM centres)
     INSERT INTO reports (id, kind, centre_code, table_number, parish_code, municipality_code, state_code, observer_id, observed_at, received_at,
                          form_version, answers, notes, submission_hash, content_hash, revision, review_state, flags, updated_at)
     SELECT md5('load-' || g)::uuid, 'voting', c.code, NULL, c.parish_code, c.municipality_code, c.state_code, $1::uuid,
            now() - interval '2 hours', now() - interval '1 hour' + g * interval '10 milliseconds', 1,
            $3::jsonb || jsonb_build_object('waitingMinutes', g % 90), 'Cola ordenada, sin incidencias, "testigos" presentes',
            md5(g::text) || md5(g::text), md5(g::text) || md5(g::text), 1, 'unreviewed', '{}', now()
     FROM generate_series(1, $2::int) g CROSS JOIN n JOIN c ON c.k = g % n.n`,
    [admin!.id, REPORTS, JSON.stringify(VOTING)],
  );
  await db.query('VACUUM ANALYZE reports');
  parishes = (await db.query<{ code: string }>("SELECT code FROM regions WHERE level = 'parish' ORDER BY code")).map(
    (row) => row.code,
  );
  centres = (await db.query<{ code: string }>('SELECT code FROM centres ORDER BY code')).map((row) => row.code);
}, 240_000);

afterAll(async () => {
  await server?.stop('SIGTERM', 20_000).catch(() => undefined);
  await killAllServers();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

interface WriterResult {
  sent: number;
  attempts: number;
  statuses: Record<string, number>;
  latencies: number[];
  acknowledged: string[];
  badAnswers: string[];
  acknowledgedPerSecond: number;
}

/** Observers' POSTs at POSTS_PER_SECOND from a process of their own (test/helpers/paced-writer.ts) for warmUpMs + durationMs. */
async function observers(warmUpMs: number, durationMs: number): Promise<WriterResult> {
  const file = join(dataDir, `writer-${randomUUID()}.json`);
  await writeFile(
    file,
    JSON.stringify({ base, token: TEST_ADMIN_TOKEN, perSecond: POSTS_PER_SECOND, warmUpMs, durationMs, centres }),
  );
  const result = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'paced-writer.ts')], {
    env: { ...process.env, WRITER_CONFIG: file },
    timeoutMs: warmUpMs + durationMs + 90_000,
  });
  if (result.code !== 0) throw new Error(`the paced writer exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as WriterResult;
}

const describeLatency = (latencies: number[]) =>
  `p50 ${quantile(latencies, 0.5)} p95 ${quantile(latencies, 0.95)} p99 ${quantile(latencies, 0.99)} max ${quantile(latencies, 1)} ms (${latencies.length} attempts)`;

describe('reads never starve writes', () => {
  it(`POST /v1/reports › p99 ≤ 500 ms and no 5xx while ${EXPORTERS} clients export and ${SUMMARY_READERS} read centre summaries`, async () => {
    const count = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);
    let stop = false;
    let measuring = false;
    // Stops every reader's request at the end (sleeps too), so that the test ends when the load does.
    const stopped = new AbortController();
    setMaxListeners(0, stopped.signal); // every reader's request listens to it
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          stopped.signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        stopped.signal.addEventListener('abort', done);
      });
    const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    // Refused readers wait as Retry-After tells them, with some jitter, as a well-behaved dashboard or script does.
    const retryPause = (response: Response) =>
      Number(response.headers.get('retry-after') ?? 1) * 1000 * (0.75 + Math.random() / 2);

    // Exporters: the whole export, read to the end (without keeping it), checked for its final line.
    const exports = { complete: 0, cut: 0, refused: 0, other: {} as Record<string, number>, bytes: 0 };
    const exporter = async () => {
      while (!stop) {
        try {
          const response = await fetch(`${base}/v1/reports/export?format=ndjson`, {
            headers: auth,
            signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(LOAD_MS + 30_000)]),
          });
          if (response.status === 503) {
            exports.refused += 1;
            await response.arrayBuffer();
            await pause(retryPause(response));
            continue;
          }
          if (response.status !== 200) {
            count(exports.other, `${response.status} ${(await response.text()).slice(0, 200)}`);
            continue;
          }
          let tail = '';
          let bytes = 0;
          for await (const chunk of response.body!) {
            bytes += chunk.length;
            tail = (tail + Buffer.from(chunk.subarray(-200)).toString('latin1')).slice(-200);
          }
          exports.bytes += bytes;
          const last = tail.trimEnd().split('\n').at(-1) ?? '';
          if (/^\{"complete":true,"rows":\d+\}$/.test(last)) exports.complete += 1;
          else exports.cut += 1;
        } catch (error) {
          if (stop) break; // stopped by the test, not cut by the server
          count(exports.other, `error ${(error as Error).message}`);
          exports.cut += 1;
        }
      }
    };

    // Summary readers: the centres of a random parish, again and again.
    const summaries = { ok: 0, refused: 0, other: {} as Record<string, number>, latencies: [] as number[] };
    const summaryReader = async () => {
      while (!stop) {
        const parent = parishes[Math.floor(Math.random() * parishes.length)]!;
        const started = performance.now();
        try {
          const response = await fetch(`${base}/v1/summaries?level=centre&parent=${parent}`, {
            headers: auth,
            signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(30_000)]),
          });
          await response.arrayBuffer();
          if (response.status === 200) {
            summaries.ok += 1;
            if (measuring) summaries.latencies.push(performance.now() - started);
          } else if (response.status === 503) {
            summaries.refused += 1;
            await pause(retryPause(response));
          } else count(summaries.other, String(response.status));
        } catch (error) {
          if (stop) break;
          count(summaries.other, `error ${(error as Error).message}`);
        }
      }
    };

    for (const path of [`/v1/summaries?level=centre&parent=${parishes[0]}`, '/v1/reports/export?format=ndjson']) {
      const started = performance.now();
      const response = await fetch(`${base}${path}`, { headers: auth });
      const body = await response.arrayBuffer();
      console.log(
        `alone: ${path} ${response.status} ${body.byteLength} bytes in ${(performance.now() - started).toFixed(0)} ms`,
      );
    }
    // The baseline: the same POSTs with no reader, on this machine as loaded as it is now.
    const phase = performance.now();
    const alone = await observers(0, BASELINE_MS);
    console.log(`phase: baseline ${(performance.now() - phase).toFixed(0)} ms`);
    const serverCpu = cpuOf(server.pid);
    const clientCpu = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
    let peakMb = rssMb(server.pid);
    const idleMb = peakMb;
    const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssMb(server.pid))), 200);
    const readers = [
      ...Array.from({ length: EXPORTERS }, exporter),
      ...Array.from({ length: SUMMARY_READERS }, summaryReader),
    ];
    let writes: WriterResult;
    try {
      setTimeout(() => (measuring = true), WARM_UP_MS);
      // The load runs for a fixed time: that is the experiment.
      writes = await observers(WARM_UP_MS, LOAD_MS);
      console.log(`phase: load done at ${(performance.now() - phase).toFixed(0)} ms`);
      measuring = false;
      stop = true;
      stopped.abort();
      await Promise.race([Promise.all(readers), sleep(30_000)]);
      console.log(`phase: readers stopped at ${(performance.now() - phase).toFixed(0)} ms`);
    } finally {
      stop = true;
      clearInterval(sampler);
    }
    console.log(
      `reads vs writes on the national registry (${centres.length} centres, ${parishes.length} parishes), ${REPORTS} reports to export, ` +
        `${LOAD_MS / 1000} s measured after a ${WARM_UP_MS / 1000} s warm-up; observers POST ${POSTS_PER_SECOND}/s from a process of their own:\n` +
        `  baseline, POSTs alone for ${BASELINE_MS / 1000} s: statuses ${JSON.stringify(alone.statuses)}, latency ${describeLatency(alone.latencies)}\n` +
        `  POST /v1/reports under read load: ${writes.sent} sent, ${writes.acknowledgedPerSecond.toFixed(1)} acknowledged/s, statuses ${JSON.stringify(writes.statuses)}, latency ${describeLatency(writes.latencies)}\n` +
        `  exports (${EXPORTERS} clients): ${exports.complete} complete, ${exports.cut} cut, ${exports.refused} refused 503, other ${JSON.stringify(exports.other)}, ${(exports.bytes / 1e6).toFixed(0)} MB read\n` +
        `  centre summaries (${SUMMARY_READERS} clients): ${summaries.ok} answered 200 (${describeLatency(summaries.latencies)}), ${summaries.refused} refused 503, other ${JSON.stringify(summaries.other)}\n` +
        `  server RSS: ${idleMb.toFixed(0)} MB before, ${peakMb.toFixed(0)} MB peak; CPU seconds: server ${(cpuOf(server.pid) - serverCpu).toFixed(1)}, ` +
        `readers' process ${((process.cpuUsage().user + process.cpuUsage().system) / 1e6 - clientCpu).toFixed(1)}; load average ${loadavg()
          .map((n) => n.toFixed(1))
          .join(' ')}` +
        (writes.badAnswers.length > 0 ? `\n  bad POST answers: ${writes.badAnswers.join('\n    ')}` : ''),
    );

    // Writes kept their service level.
    expect(
      Object.keys(writes.statuses).filter((status) => status !== '201'),
      `POST statuses ${JSON.stringify(writes.statuses)}`,
    ).toEqual([]);
    // The target is p99 ≤ 500 ms; on a shared machine the POSTs' own p99 without any reader (the baseline, measured
    // just before) is noise that no server design removes, so it is allowed on top.
    expect(quantile(writes.latencies, 0.99)).toBeLessThanOrEqual(
      500 + Math.max(0, quantile(alone.latencies, 0.99) - 100),
    );
    // Readers were served too, and no export answered 200 was cut.
    expect(exports.complete).toBeGreaterThan(0);
    expect(exports.cut).toBe(0);
    expect(summaries.ok).toBeGreaterThan(0);
    expect(peakMb).toBeLessThan(1000);
    // Every acknowledged POST is stored once (and the export's reports are all there).
    const stats = newStats();
    for (const id of [...alone.acknowledged, ...writes.acknowledged]) stats.acknowledged.add(id);
    stats.sent = alone.sent + writes.sent;
    stats.attempts = alone.attempts + writes.attempts;
    stats.statuses = writes.statuses;
    console.log(`phase: checks at ${(performance.now() - phase).toFixed(0)} ms`);
    await expectAcknowledgedStoredOnce('POSTs alone and under read load', stats, db.query.bind(db), {
      otherReports: REPORTS,
    });
  }, 300_000);
});
