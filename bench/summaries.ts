// Summaries at national scale: the national 2024 registry (24,532 tables) and 150,000 reports of every kind
// (loaded by SQL through the same triggers the API's writes fire), then GET /v1/summaries/national and
// GET /v1/summaries?level=state timed (one reader, request after request) with the server idle, while
// POST /v1/reports runs at a steady BENCH_INGEST_RATE (default 300 reports/s: about forty times the busiest
// hour of an election day), and while it runs flat out (50 connections). Side by side: the same summaries
// recounted from the reports (?since=…), i.e. what every read would cost without the trigger-kept tallies.
// Then the read path at scale: 50 concurrent clients (autocannon) on the state summary beside GET /healthz on
// the same server, idle (target: at least half its throughput); and 1,000 open GET /v1/summaries/stream
// connections, the time from a report's POST to each connection's receipt of the event (target p99 ≤ 1.5 s).
// Ends by checking that the live tallies still equal the recount after all that ingest.
//                                                                        npm run bench -- summaries
// BENCH_DURATION_S (default 10) sets each phase's length, BENCH_SUMMARY_READERS (default 1) the concurrent readers.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import autocannon from 'autocannon';
import pg from 'pg';
import { INCIDENT_CATEGORIES } from '../src/features/reports/forms.js';
import { adminHeaders, ensureBuilt, killAllServers, startServer } from '../test/helpers/server-process.js';
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

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const READERS = Number(process.env.BENCH_SUMMARY_READERS ?? 1);
const INGEST_RATE = Number(process.env.BENCH_INGEST_RATE ?? 300);
const TARGETS: Record<string, number> = { national: 10, state: 25 };
const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/**
 * 150,000 reports over the registry, as an election day would bring them: an arrival per centre, an
 * opening, two voting, a closing and a results report per table, and 14,523 incidents. Results add up and
 * match the registry (no flags), so each table has one counted result.
 */
export async function seed(client: pg.Client, observerId: string): Promise<number> {
  const day = `now() - interval '12 hours'`;
  const common = `gen_random_uuid(), %KIND%::report_kind, c.code, %TABLE%, c.parish_code, c.municipality_code, c.state_code, $1::uuid,
                  ${day} + random() * interval '12 hours', ${day} + random() * interval '12 hours', 1, %ANSWERS%, repeat('0', 64), repeat('0', 64)`;
  const insert = (kind: string, table: string, answers: string, from: string) =>
    client.query(
      `
    INSERT INTO reports (id, kind, centre_code, table_number, parish_code, municipality_code, state_code, observer_id, observed_at, received_at,
                         form_version, answers, submission_hash, content_hash)
    SELECT ${common.replace('%KIND%', `'${kind}'`).replace('%TABLE%', table).replace('%ANSWERS%', answers)} ${from}`,
      [observerId],
    );
  const tables = 'FROM polling_tables t JOIN centres c ON c.code = t.centre_code';
  const categories = `(ARRAY[${INCIDENT_CATEGORIES.map((category) => `'${category}'`).join(',')}])[1 + floor(random() * ${INCIDENT_CATEGORIES.length})::int]`;
  const valid = 'floor(t.registered_voters * 0.55)::int';
  const votes =
    `jsonb_build_object('EG', ${valid} - floor(${valid} * 0.3)::int - 8 * floor(${valid} * 0.01)::int, 'NM', floor(${valid} * 0.3)::int, ` +
    CANDIDATES.slice(2)
      .map(([code]) => `'${code}', floor(${valid} * 0.01)::int`)
      .join(', ') +
    ')';
  const counts = [
    await insert('arrival', 'NULL', `'{"accessGranted": true}'::jsonb`, 'FROM centres c'),
    await insert(
      'opening',
      't.number',
      `jsonb_build_object('openedAt', to_char(time '05:30' + floor(random() * 210) * interval '1 minute', 'HH24:MI'),
      'tableStaffComplete', true, 'zeroReportPrinted', true, 'witnessesPresent', '["EG","NM"]'::jsonb)`,
      tables,
    ),
    await insert(
      'voting',
      't.number',
      `'{"queueLength":"short","waitingMinutes":20,"assistedVotingProblems":false,"identificationProblems":false,"securityForces":"appropriate","propagandaNearby":false}'::jsonb`,
      `${tables} CROSS JOIN generate_series(1, 2)`,
    ),
    await insert('closing', 't.number', `'{"closedAt":"18:05","votersInLineAllowed":true}'::jsonb`, tables),
    await insert(
      'results',
      't.number',
      `jsonb_build_object('registeredVoters', t.registered_voters, 'validVotes', ${valid},
      'nullVotes', floor(t.registered_voters * 0.01)::int, 'votes', ${votes}, 'citizenAudit', true)`,
      tables,
    ),
    await insert(
      'incident',
      't.number',
      `jsonb_build_object('category', ${categories}, 'severity', (ARRAY['low','medium','high','critical'])[1 + floor(random() * 4)::int],
      'description', 'seen by the observer', 'ongoing', random() < 0.2)`,
      `${tables} WHERE random() < 14523.0 / 24532 `,
    ),
  ];
  return counts.reduce((sum, result) => sum + (result.rowCount ?? 0), 0);
}

/** Readers fetching `path` back to back for `seconds`; latencies in ms. */
async function readLoop(base: string, pathOf: string | (() => string), seconds: number): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      while (performance.now() < until) {
        const path = typeof pathOf === 'string' ? pathOf : pathOf();
        const sent = performance.now();
        const response = await fetch(`${base}${path}`, { headers: adminHeaders });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

/**
 * `count` streams of GET /v1/summaries/stream (node http, one socket each); after each has its first event,
 * `rounds` writes by `write`, each timed from its send to each stream's receipt of a newer version.
 */
async function streamLatencies(base: string, count: number, write: () => Promise<void>, rounds = 5, gapMs = 2500) {
  const url = new URL('/v1/summaries/stream', base);
  const requests: http.ClientRequest[] = [];
  const latest: number[] = new Array(count).fill(-1);
  const seenAt: number[] = new Array(count).fill(0);
  let failed = 0;
  const open = (i: number) =>
    new Promise<void>((resolve) => {
      const request = http.get(url, { headers: adminHeaders, agent: false }, (response) => {
        if (response.statusCode !== 200) {
          failed += 1;
          response.resume();
          resolve();
          return;
        }
        let tail = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          const text = tail + chunk;
          for (const match of text.matchAll(/\nid: (\d+)\n/g)) {
            const id = Number(match[1]);
            if (id > latest[i]!) {
              latest[i] = id;
              seenAt[i] = performance.now();
              resolve();
            }
          }
          tail = text.slice(-40);
        });
      });
      request.on('error', () => {
        failed += 1;
        resolve();
      });
      requests.push(request);
    });
  try {
    for (let i = 0; i < count; i += 100)
      await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => open(i + j)));
    const samples: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, gapMs));
      const before = latest.slice();
      const sent = performance.now();
      await write();
      const deadline = sent + 10_000;
      while (performance.now() < deadline && latest.some((id, i) => id >= 0 && id <= before[i]!))
        await new Promise((resolve) => setTimeout(resolve, 10));
      for (let i = 0; i < count; i += 1) {
        if (latest[i]! < 0) continue;
        samples.push(latest[i]! > before[i]! ? seenAt[i]! - sent : 10_000);
      }
    }
    samples.sort((a, b) => a - b);
    return {
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      samples: samples.length,
      failed,
      rounds,
      gapMs,
    };
  } finally {
    for (const request of requests) request.destroy();
  }
}

export async function summariesBench(): Promise<void> {
  await ensureBuilt();
  const registry = nationalRegistry();
  const url = await freshDatabase('summaries');
  const server = startServer({
    DATABASE_URL: url,
    RATE_LIMIT_PER_TOKEN: '0',
    RATE_LIMIT_PER_IP: '0',
    STREAM_MAX_PER_TOKEN: String(STREAMS + 10),
    STREAM_MAX_PER_IP: String(STREAMS + 10),
  });
  const client = new pg.Client({ connectionString: url });
  try {
    const base = await server.listening();
    await setUpElection(base, registry);
    // From here the server's log lines are drained, not parsed (the load generator shares the cores).
    server.child.stdout!.removeAllListeners('data');
    server.child.stdout!.on('data', () => undefined);
    await client.connect();
    const {
      rows: [admin],
    } = await client.query<{ id: string }>("SELECT id FROM users WHERE role = 'admin' LIMIT 1");
    const seeded = performance.now();
    const loaded = await seed(client, admin!.id);
    const seedSeconds = (performance.now() - seeded) / 1000;
    await client.query('ANALYZE');
    const { rows: tables } = await client.query<{ centre: string; number: number }>(
      'SELECT centre_code AS centre, number FROM polling_tables',
    );

    let n = 0;
    const nextReport = () => {
      n += 1;
      const table = tables[(n * 7919) % tables.length]!;
      const observedAt = new Date(Date.now() - 60_000).toISOString();
      if (n % 3 === 0) {
        return {
          id: randomUUID(),
          kind: 'incident',
          centreCode: table.centre,
          table: table.number,
          observedAt,
          answers: { category: 'other', severity: 'low', description: 'bench', ongoing: n % 2 === 0 },
        };
      }
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
      };
    };
    const ingest = (seconds: number, rate?: number) =>
      autocannon({
        url: base,
        connections: 50,
        duration: seconds,
        ...(rate ? { overallRate: rate } : {}),
        requests: [
          {
            method: 'POST',
            path: '/v1/reports',
            headers: { 'content-type': 'application/json', ...adminHeaders },
            setupRequest: (request) => ({ ...request, body: JSON.stringify(nextReport()) }),
          },
        ],
      });

    const paths = { national: '/v1/summaries/national', state: '/v1/summaries?level=state' };
    // A recount with a window of its own each time (a different `since` by a millisecond): always a cache miss,
    // i.e. what every read cost before the tallies (and what an uncached read of a window costs now).
    let shift = 0;
    const recountOf = (path: string) => () => {
      shift = (shift + 1) % 86_400_000;
      const since = new Date(Date.UTC(2000, 0, 1) + shift).toISOString();
      return `${path}${path.includes('?') ? '&' : '?'}since=${since}`;
    };
    const recount = 'since=2000-01-01T00:00:00Z';
    // Warm both paths (plans, caches), then measure.
    for (const path of Object.values(paths)) await readLoop(base, path, 1);
    const rows: Row[] = [];
    const measure = async (
      name: keyof typeof paths,
      phase: string,
      path: string | (() => string),
      during?: ReturnType<typeof ingest>,
    ) => {
      const latencies = await readLoop(base, path, DURATION_S);
      const load = during ? await during : undefined;
      rows.push({
        summary: name,
        phase,
        'p50 ms': percentile(latencies, 50),
        'p95 ms': percentile(latencies, 95),
        'p99 ms': percentile(latencies, 99),
        'reads/s': latencies.length / DURATION_S,
        'target p99 ms': typeof path !== 'string' || phase === 'during ingest flat out' ? '—' : TARGETS[name]!,
        'ingest req/s': load ? Math.round(load.requests.average) : '—',
        'ingest p99 ms': load ? load.latency.p99 : '—',
        'ingest non-2xx': load ? load.non2xx + load.errors : '—',
      });
      process.stderr.write('.');
    };
    for (const name of ['national', 'state'] as const) {
      await measure(name, 'idle', paths[name]);
      await measure(name, `during ingest at ${INGEST_RATE}/s`, paths[name], ingest(DURATION_S, INGEST_RATE));
      await measure(name, 'during ingest flat out', paths[name], ingest(DURATION_S));
      await measure(name, 'baseline: recount from reports (uncached), idle', recountOf(paths[name]));
    }
    process.stderr.write('\n');

    // (a) 50 concurrent clients, idle: the state summary beside /healthz on the same server.
    const throughput = async (path: string) =>
      autocannon({ url: `${base}${path}`, connections: 50, duration: DURATION_S, headers: adminHeaders });
    const scaleRows: Row[] = [];
    await throughput('/healthz'); // warm-up
    const health = await throughput('/healthz');
    const state = await throughput(paths.state);
    const uncached = await autocannon({
      url: base,
      connections: 50,
      duration: DURATION_S,
      requests: [
        {
          method: 'GET',
          path: paths.state,
          headers: adminHeaders,
          setupRequest: (r) => ({ ...r, path: recountOf(paths.state)() }),
        },
      ],
    });
    for (const [route, result] of [
      ['GET /healthz', health],
      ['GET /v1/summaries?level=state (cached)', state],
      ['baseline: GET /v1/summaries?level=state&since=… (uncached recount)', uncached],
    ] as const) {
      scaleRows.push({
        'idle, 50 connections': route,
        'req/s': Math.round(result.requests.average),
        'p50 ms': result.latency.p50,
        'p99 ms': result.latency.p99,
        'vs healthz': result.requests.average / health.requests.average,
        target: route.includes('(cached)') ? '≥ 0.50' : '—',
        'non-2xx': result.non2xx + result.errors,
      });
    }
    process.stderr.write('.');

    // (c) 1,000 open streams: time from a report's POST to each stream's receipt of the new version.
    const sse = await streamLatencies(base, STREAMS, async () => {
      const response = await fetch(`${base}/v1/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...adminHeaders },
        body: JSON.stringify(nextReport()),
      });
      if (response.status !== 201) throw new Error(`POST /v1/reports: ${response.status}`);
    });
    scaleRows.push({
      'idle, 50 connections': `SSE: ${STREAMS.toLocaleString('en-US')} open streams, POST → event received (${sse.samples} samples)`,
      'p50 ms': sse.p50,
      'p99 ms': sse.p99,
      target: 'p99 ≤ 1,500',
      'non-2xx': sse.failed,
    });
    process.stderr.write('\n');

    // Still exact after the ingest: the live rows equal the recount.
    for (const path of Object.values(paths)) {
      const get = async (query: string) => {
        const body = (await (await fetch(`${base}${query}`, { headers: adminHeaders })).json()) as Record<
          string,
          unknown
        >;
        delete body.since;
        delete body.until;
        return JSON.stringify(body);
      };
      const [live, counted] = [await get(path), await get(`${path}${path.includes('?') ? '&' : '?'}${recount}`)];
      if (live !== counted) throw new Error(`${path}: the live summary differs from the recount after ingest`);
    }
    const {
      rows: [stored],
    } = await client.query<{ reports: number; tallies: number }>(
      'SELECT (SELECT count(*)::int FROM reports) AS reports, (SELECT count(*)::int FROM summary_tallies) AS tallies',
    );
    const memory = memoryOf(server.pid);
    await report(
      'summaries-scale',
      'Summaries at scale: 50 concurrent readers beside /healthz (idle), and SSE',
      scaleRows,
      [
        `${DURATION_S} s per autocannon run on the same machine as the server and PostgreSQL (2 shared cores: indicative only)`,
        `SSE: ${STREAMS} connections opened in batches of 100; ${sse.rounds} reports posted ${sse.gapMs} ms apart; latency from the POST's send to the event's arrival on each connection`,
      ],
    );
    await report(
      'summaries',
      `Summaries with the national registry and ${loaded.toLocaleString('en-US')} reports (${READERS === 1 ? 'one reader, request after request' : `${READERS} concurrent readers`}, ${DURATION_S} s per phase)`,
      rows,
      [
        `seed: ${loaded.toLocaleString('en-US')} reports inserted by SQL through the summary triggers in ${seedSeconds.toFixed(1)} s; ${stored!.reports.toLocaleString('en-US')} reports at the end, ${stored!.tallies.toLocaleString('en-US')} tally rows`,
        `during ingest: POST /v1/reports (voting and incident reports, admin token) over 50 connections, at ${INGEST_RATE} requests/s or as fast as the server answers, at the same time as the readers`,
        'after the ingest the live national and state summaries were compared with the recount: equal',
        `server RSS at the end ${memory.rssMb.toFixed(0)} MB (peak ${memory.peakMb.toFixed(0)} MB)`,
      ],
    );
  } finally {
    await client.end().catch(() => undefined);
    await server.stop().catch(() => killAllServers());
    await dropDatabases();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await summariesBench();
