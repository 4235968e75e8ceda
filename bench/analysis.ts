// Process analysis at national scale: the national 2024 registry, a 10-question form with every question type
// and 100,000 reports of it (loaded by SQL, then counted by testigo_analysis_rebuild()), then
// GET /v1/analysis?kind=…&level=state timed (one reader, request after request) idle and while ingest runs:
// POST /v1/reports at BENCH_INGEST_RATE (default 300/s) plus reports of the analysed form written at 50/s (one
// statement each with its first revision, as the API writes them: queued for the log, integrated with it, read
// from its queue until then, so the tallies being read change meanwhile). Beside it the baseline: the
// same answer recounted from the reports (each centre's latest unrejected report, GROUP BY state and answer).
//                                                                        npm run bench -- analysis
// BENCH_DURATION_S (default 10) sets each phase's length.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { adminHeaders, ensureBuilt, killAllServers, startServer } from '../test/helpers/server-process.js';
import { dropDatabases, freshDatabase, memoryOf, nationalRegistry, type Row, report, setUpElection } from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const INGEST_RATE = Number(process.env.BENCH_INGEST_RATE ?? 300);
const REPORTS = 100_000;
const TARGET_P95_MS = 25;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

const label = (en: string) => ({ en, es: en });
const options = (...keys: string[]) => keys.map((key) => ({ key, label: label(key) }));
const QUESTIONS = [
  { key: 'witnesses', type: 'boolean' },
  { key: 'queue', type: 'single', options: options('none', 'short', 'medium', 'long') },
  { key: 'materials', type: 'multiple', options: options('ballots', 'ink', 'booths', 'lists', 'seals') },
  { key: 'waiting', type: 'integer', min: 0, max: 240 },
  { key: 'openedAt', type: 'time' },
  { key: 'remarks', type: 'text', maxLength: 4000 },
  { key: 'police', type: 'boolean' },
  { key: 'security', type: 'single', options: options('none', 'appropriate', 'intimidating') },
  { key: 'staff', type: 'integer', min: 0, max: 12 },
  { key: 'closedAt', type: 'time' },
].map((question) => ({ label: label(question.key), required: false, ...question }));

/** SQL of one report's answers, random over every question (some left unanswered). */
const ANSWERS = `jsonb_strip_nulls(jsonb_build_object(
  'witnesses', CASE WHEN random() < 0.9 THEN random() < 0.7 END,
  'queue', (ARRAY['none','short','medium','long'])[1 + floor(random() * 4)::int],
  'materials', to_jsonb(ARRAY(SELECT m FROM unnest(ARRAY['ballots','ink','booths','lists','seals']) m WHERE random() < 0.5 + 0 * g)),
  'waiting', floor(random() * 241)::int,
  'openedAt', to_char(time '05:30' + floor(random() * 180) * interval '1 minute', 'HH24:MI'),
  'remarks', CASE WHEN random() < 0.3 THEN 'observed' END,
  'police', random() < 0.2,
  'security', (ARRAY['none','appropriate','intimidating'])[1 + floor(random() * 3)::int],
  'staff', floor(random() * 13)::int,
  'closedAt', to_char(time '18:00' + floor(random() * 120) * interval '1 minute', 'HH24:MI')))`;

async function seed(client: pg.Client, observerId: string): Promise<number> {
  await client.query("INSERT INTO forms (key, role, unit) VALUES ('checklist', NULL, 'centre')");
  await client.query("INSERT INTO form_versions (form_key, version, definition) VALUES ('checklist', 1, $1)", [
    JSON.stringify({ key: 'checklist', title: label('Checklist'), unit: 'centre', questions: QUESTIONS }),
  ]);
  let loaded = 0;
  // In statements of 20,000 reports (about one and a half per centre each), as a day's ingest would bring them.
  for (let part = 0; part < REPORTS / 20_000; part += 1) {
    const result = await client.query(
      `INSERT INTO reports (id, kind, centre_code, parish_code, municipality_code, state_code, observer_id, observed_at,
                            received_at, form_version, answers, submission_hash, content_hash)
       SELECT gen_random_uuid(), 'checklist', c.code, c.parish_code, c.municipality_code, c.state_code, $1::uuid,
              now() - random() * interval '12 hours', now() - random() * interval '12 hours', 1, ${ANSWERS},
              repeat('0', 64), repeat('0', 64)
       FROM (SELECT g, 1 + floor(random() * (SELECT count(*) FROM centres))::int AS pick FROM generate_series(1, 20000) g) x
       JOIN (SELECT row_number() OVER (ORDER BY code) AS n, * FROM centres) c ON c.n = x.pick`,
      [observerId],
    );
    loaded += result.rowCount ?? 0;
  }
  // Reports written by SQL have no first revision, so the log never queues them: counted once, by a rebuild.
  await client.query('SELECT testigo_analysis_rebuild()');
  return loaded;
}

/** The baseline: the state-level answer recounted from the reports, in SQL (no trigger-kept tallies). */
const RECOUNT = `
  WITH counted AS (
    SELECT DISTINCT ON (centre_code) state_code, form_version, answers FROM reports
    WHERE kind = 'checklist' AND review_state <> 'rejected'
    ORDER BY centre_code, observed_at DESC, received_at DESC, id DESC),
  questions AS (
    SELECT v.version, q->>'key' AS key, q->>'type' AS type FROM form_versions v, jsonb_array_elements(v.definition->'questions') q
    WHERE v.form_key = 'checklist'),
  cells AS (
    SELECT c.state_code, q.key, CASE q.type
             WHEN 'multiple' THEN e.value
             WHEN 'integer' THEN c.answers->>q.key
             WHEN 'time' THEN c.answers->>q.key
             WHEN 'text' THEN 'x'
             ELSE c.answers->>q.key END AS value
    FROM counted c JOIN questions q ON q.version = c.form_version
    LEFT JOIN LATERAL jsonb_array_elements_text(CASE WHEN q.type = 'multiple' THEN c.answers->q.key ELSE '[]' END) e ON TRUE
    WHERE c.answers ? q.key AND (q.type <> 'multiple' OR e.value IS NOT NULL))
  SELECT r.code, r.name, (SELECT count(*) FROM counted WHERE state_code = r.code) AS reporting,
         (SELECT json_agg(json_build_array(key, value, units)) FROM (
            SELECT key, value, count(*) AS units FROM cells WHERE cells.state_code = r.code GROUP BY key, value) s) AS cells
  FROM regions r WHERE r.level = 'state' ORDER BY r.code`;

async function timed(seconds: number, once: () => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const sent = performance.now();
    await once();
    latencies.push(performance.now() - sent);
  }
  return latencies.sort((a, b) => a - b);
}

export async function analysisBench(): Promise<void> {
  await ensureBuilt();
  const registry = nationalRegistry();
  const url = await freshDatabase('analysis');
  const server = startServer({ DATABASE_URL: url, RATE_LIMIT_PER_TOKEN: '0', RATE_LIMIT_PER_IP: '0' });
  const client = new pg.Client({ connectionString: url });
  const writer = new pg.Client({ connectionString: url });
  const reader = new pg.Client({ connectionString: url });
  try {
    const base = await server.listening();
    await setUpElection(base, registry);
    server.child.stdout!.removeAllListeners('data');
    server.child.stdout!.on('data', () => undefined);
    await Promise.all([client.connect(), writer.connect(), reader.connect()]);
    const {
      rows: [admin],
    } = await client.query<{ id: string }>("SELECT id FROM users WHERE role = 'admin' LIMIT 1");
    const seeded = performance.now();
    const loaded = await seed(client, admin!.id);
    const seedSeconds = (performance.now() - seeded) / 1000;
    await client.query('ANALYZE');
    const { rows: centres } = await client.query<{ code: string }>('SELECT code FROM centres');

    let n = 0;
    const voting = () => {
      n += 1;
      return {
        id: randomUUID(),
        kind: 'voting',
        centreCode: centres[(n * 7919) % centres.length]!.code,
        observedAt: new Date(Date.now() - 60_000).toISOString(),
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
    const ingest = (seconds: number) =>
      autocannon({
        url: base,
        connections: 50,
        duration: seconds,
        overallRate: INGEST_RATE,
        requests: [
          {
            method: 'POST',
            path: '/v1/reports',
            headers: { 'content-type': 'application/json', ...adminHeaders },
            setupRequest: (request) => ({ ...request, body: JSON.stringify(voting()) }),
          },
        ],
      });
    /** Reports of the analysed form at 50/s, one statement each, until `seconds` are over; how many were written. */
    const formWriter = async (seconds: number) => {
      const until = performance.now() + seconds * 1000;
      let written = 0;
      while (performance.now() < until) {
        await writer.query(
          // with its first revision, as the API writes a report (the log queues it; it enters the tallies when
          // the log integrates it, and reads add it from the queue until then)
          `WITH ins AS (
             INSERT INTO reports (id, kind, centre_code, parish_code, municipality_code, state_code, observer_id, observed_at,
                                  form_version, answers, submission_hash, content_hash)
             SELECT gen_random_uuid(), 'checklist', c.code, c.parish_code, c.municipality_code, c.state_code, $1::uuid, now(),
                    1, ${ANSWERS}, repeat('0', 64), repeat('0', 64)
             FROM (SELECT 1 AS g) g, centres c WHERE c.code = $2
             RETURNING *)
           INSERT INTO report_revisions (report_id, number, observed_at, answers, content_hash, author_id, created_at)
           SELECT id, 1, observed_at, answers, content_hash, observer_id, received_at FROM ins`,
          [admin!.id, centres[Math.floor(Math.random() * centres.length)]!.code],
        );
        written += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return written;
    };

    const path = '/v1/analysis?kind=checklist&level=state';
    const api = async () => {
      const response = await fetch(`${base}${path}`, { headers: adminHeaders });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`GET ${path}: ${response.status}`);
    };
    const recount = async () => {
      await reader.query(RECOUNT);
    };
    await timed(1, api);
    await timed(1, recount);
    const rows: Row[] = [];
    const measure = async (
      name: string,
      phase: string,
      once: () => Promise<void>,
      during: boolean,
      target: boolean,
    ) => {
      const load = during ? ingest(DURATION_S) : undefined;
      const form = during ? formWriter(DURATION_S) : undefined;
      const latencies = await timed(DURATION_S, once);
      const [ingested, written] = [await load, await form];
      rows.push({
        read: name,
        phase,
        'p50 ms': percentile(latencies, 50),
        'p95 ms': percentile(latencies, 95),
        'p99 ms': percentile(latencies, 99),
        'reads/s': latencies.length / DURATION_S,
        'target p95 ms': target ? TARGET_P95_MS : '—',
        'ingest req/s': ingested ? Math.round(ingested.requests.average) : '—',
        'ingest non-2xx': ingested ? ingested.non2xx + ingested.errors : '—',
        'form reports/s': written !== undefined ? written / DURATION_S : '—',
      });
      process.stderr.write('.');
    };
    await measure('GET /v1/analysis level=state', 'idle', api, false, true);
    await measure('GET /v1/analysis level=state', `during ingest (${INGEST_RATE}/s + form 50/s)`, api, true, true);
    await measure('baseline: recount from reports (SQL GROUP BY)', 'idle', recount, false, false);
    await measure('baseline: recount from reports (SQL GROUP BY)', 'during ingest', recount, true, false);
    process.stderr.write('\n');

    const {
      rows: [stored],
    } = await client.query<{ reports: number; units: number; tallies: number }>(
      `SELECT (SELECT count(*)::int FROM reports WHERE kind = 'checklist') AS reports,
              (SELECT count(*)::int FROM analysis_units WHERE form_key = 'checklist' AND report_id IS NOT NULL) AS units,
              (SELECT count(*)::int FROM analysis_tallies WHERE form_key = 'checklist') AS tallies`,
    );
    const memory = memoryOf(server.pid);
    await report(
      'analysis',
      `Process analysis with the national registry, a 10-question form and ${loaded.toLocaleString('en-US')} reports of it (one reader, request after request, ${DURATION_S} s per phase)`,
      rows,
      [
        `seed: ${loaded.toLocaleString('en-US')} reports inserted by SQL and counted by a rebuild in ${seedSeconds.toFixed(1)} s; at the end ${stored!.reports.toLocaleString('en-US')} reports of the form, ${stored!.units.toLocaleString('en-US')} centres counted, ${stored!.tallies.toLocaleString('en-US')} tally rows`,
        `during ingest: POST /v1/reports (voting, admin token) at ${INGEST_RATE} requests/s over 50 connections, and reports of the analysed form by SQL at up to 50/s`,
        `server RSS at the end ${memory.rssMb.toFixed(0)} MB (peak ${memory.peakMb.toFixed(0)} MB)`,
      ],
    );
  } finally {
    await Promise.all([client, writer, reader].map((c) => c.end().catch(() => undefined)));
    await server.stop().catch(() => killAllServers());
    await dropDatabases();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await analysisBench();
