// GET /v1/analysis: every answer type, the version mix, scope and public mode, ETags; and the tallies against an
// independent recount (test/analysis/recount.ts) after thousands of concurrent writes on reports (inserts,
// retries of an id, batches, revisions, reviews and rejections, many on the same units), and after a rebuild.
// Forms and reports are written by SQL here (the forms API is another branch's), through the same triggers.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { analysisRepository } from '../../src/features/analysis/analysis.repository.js';
import { analysisSchema } from '../../src/features/analysis/analysis.schemas.js';
import { preparedQuery } from '../../src/infra/db/prepared.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { seedRegistry } from '../helpers/factories.js';
import { expectAnalysisMatchesRecount } from './recount.js';

const { app, db, admin } = await setupTestApp({ env: { RATE_LIMIT_PER_TOKEN: '0' } });
const open = await setupTestApp({ env: { PUBLIC_SUMMARIES: 'true' } });

const label = (en: string) => ({ en, es: en });
const option = (key: string) => ({ key, label: label(key) });
const CHECKLIST_V1 = [
  { key: 'witnesses', type: 'boolean' },
  { key: 'queue', type: 'single', options: ['none', 'short', 'long'].map(option) },
  { key: 'materials', type: 'multiple', options: ['ballots', 'ink', 'booths'].map(option) },
  { key: 'waiting', type: 'integer', min: 0, max: 600 },
  { key: 'openedAt', type: 'time' },
  { key: 'remarks', type: 'text', maxLength: 4000 },
  { key: 'dropped', type: 'boolean' },
  { key: 'retyped', type: 'integer' },
];
// v2: `dropped` is gone, `police` is new, `retyped` is now a single choice.
const CHECKLIST_V2 = [
  ...CHECKLIST_V1.filter((q) => q.key !== 'dropped' && q.key !== 'retyped'),
  { key: 'police', type: 'boolean' },
  { key: 'retyped', type: 'single', options: ['a', 'b'].map(option) },
];
const definition = (key: string, unit: string, questions: object[]) => ({
  key,
  title: label(key),
  unit,
  questions: questions.map((q) => ({ label: label('?'), required: false, ...q })),
});

async function publish(target: typeof db, key: string, unit: string, versions: object[][]) {
  await target.query('INSERT INTO forms (key, role, unit) VALUES ($1, NULL, $2)', [key, unit]);
  for (const [index, questions] of versions.entries())
    await target.query('INSERT INTO form_versions (form_key, version, definition) VALUES ($1, $2, $3)', [
      key,
      index + 1,
      JSON.stringify(definition(key, unit, questions)),
    ]);
}

const TABLES = [
  ['010101001', 1],
  ['010101001', 2],
  ['010102001', 1],
  ['010102002', 1],
  ['130101001', 1],
  ['130101001', 2],
  ['130101001', 3],
  ['130201001', 1],
] as const;

// Reports as the API writes them: the report and its first revision (which queues it for the log, and through the
// log's integration for the stored tallies).
const insertSql = `
  WITH ins AS (
  INSERT INTO reports (id, kind, centre_code, table_number, parish_code, municipality_code, state_code, observer_id,
                       observed_at, form_version, answers, submission_hash, content_hash)
  SELECT x.id, x.kind, c.code, x.table_number, c.parish_code, c.municipality_code, c.state_code, $2::uuid,
         x.observed_at, x.form_version, x.answers, repeat('0', 64), repeat('0', 64)
  FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, kind text, centre_code text, table_number int, observed_at timestamptz,
                                          form_version int, answers jsonb)
  JOIN centres c ON c.code = x.centre_code
  ORDER BY c.code, x.table_number, x.id
  ON CONFLICT (id) DO NOTHING
  RETURNING *)
  INSERT INTO report_revisions (report_id, number, observed_at, answers, content_hash, author_id, created_at)
  SELECT id, 1, observed_at, answers, content_hash, observer_id, received_at FROM ins`;

interface NewReport {
  id: string;
  kind: string;
  centre_code: string;
  table_number: number | null;
  observed_at: string;
  form_version: number;
  answers: Record<string, unknown>;
}

let seed = 7;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;

function checklistAnswers(version: number): Record<string, unknown> {
  const answers: Record<string, unknown> = {};
  const maybe = (key: string, value: () => unknown) => {
    if (random() < 0.85) answers[key] = value();
  };
  maybe('witnesses', () => random() < 0.6);
  maybe('queue', () => pick(['none', 'short', 'long']));
  maybe('materials', () => ['ballots', 'ink', 'booths'].filter(() => random() < 0.5));
  maybe('waiting', () => Math.floor(random() * 120));
  maybe('openedAt', () => `0${5 + Math.floor(random() * 4)}:${String(Math.floor(random() * 60)).padStart(2, '0')}`);
  maybe('remarks', () => 'seen');
  if (version === 1) {
    maybe('dropped', () => random() < 0.5);
    maybe('retyped', () => Math.floor(random() * 5));
  } else {
    maybe('police', () => random() < 0.3);
    maybe('retyped', () => pick(['a', 'b']));
  }
  return answers;
}

function newReport(kind: 'checklist' | 'tablecheck'): NewReport {
  const [centre, table] = pick(TABLES);
  const version = kind === 'checklist' ? pick([1, 2]) : 1;
  return {
    id: randomUUID(),
    kind,
    centre_code: centre,
    table_number: kind === 'tablecheck' || random() < 0.5 ? table : null,
    // Few distinct instants, so that ties on observed_at are broken by received_at and id.
    observed_at: new Date(Date.UTC(2024, 6, 28, 12, Math.floor(random() * 6))).toISOString(),
    form_version: version,
    answers:
      kind === 'checklist'
        ? checklistAnswers(version)
        : { counted: random() < 0.5, voters: Math.floor(random() * 700), signed: pick([['x'], ['x', 'y'], []]) },
  };
}

const read = (target: { app: typeof app }, actor: TestActor | undefined, kind: string) => async (level: string) => {
  const url = level === 'national' ? `/v1/analysis/national?kind=${kind}` : `/v1/analysis?kind=${kind}&level=${level}`;
  const response = await as(target.app, actor)(url);
  expect(response.statusCode, response.body).toBe(200);
  const body = response.json();
  analysisSchema.parse(body);
  return body;
};

beforeAll(async () => {
  await seedRegistry(app, admin);
  await publish(db, 'checklist', 'centre', [CHECKLIST_V1, CHECKLIST_V2]);
  await publish(db, 'tablecheck', 'table', [
    [
      { key: 'counted', type: 'boolean' },
      { key: 'voters', type: 'integer' },
      { key: 'signed', type: 'codes', maxItems: 50 },
    ],
  ]);
});

describe('GET /v1/analysis', () => {
  it('answers every type, each unit in the version it used, and equals the recount', async () => {
    const reports = [
      {
        ...newReport('checklist'),
        centre_code: '010101001',
        form_version: 1,
        observed_at: '2024-07-28T12:00:00Z',
        answers: {
          witnesses: true,
          queue: 'long',
          materials: ['ink', 'ink', 'booths'],
          waiting: 10,
          openedAt: '06:10',
          remarks: 'a',
          dropped: true,
          retyped: 3,
        },
      },
      {
        ...newReport('checklist'),
        centre_code: '010102001',
        form_version: 2,
        observed_at: '2024-07-28T12:00:00Z',
        answers: {
          witnesses: false,
          queue: 'none',
          materials: [],
          waiting: 21,
          openedAt: '07:00',
          police: true,
          retyped: 'b',
        },
      },
      {
        ...newReport('checklist'),
        centre_code: '130101001',
        form_version: 2,
        observed_at: '2024-07-28T12:00:00Z',
        answers: { witnesses: true, waiting: 4, openedAt: '06:45' },
      },
    ];
    await db.query(insertSql, [JSON.stringify(reports), admin.id]);
    const national = await read({ app }, admin, 'checklist')('national');
    expect(national.version).toBe(2);
    expect(Object.keys(national.rows[0].questions)).toEqual([
      'witnesses',
      'queue',
      'materials',
      'waiting',
      'openedAt',
      'remarks',
      'police',
      'retyped',
      'dropped',
    ]);
    expect(national.rows[0]).toMatchObject({
      code: 'national',
      units: { total: 5, reporting: 3 },
      questions: {
        witnesses: { type: 'boolean', yes: 2, no: 1, unanswered: 0, yesShare: 2 / 3 },
        queue: {
          type: 'single',
          counts: { none: 1, short: 0, long: 1 },
          unanswered: 1,
          shares: { none: 0.5, short: 0, long: 0.5 },
        },
        materials: { type: 'multiple', counts: { ballots: 0, ink: 1, booths: 1 }, unanswered: 1 },
        waiting: { type: 'integer', answered: 3, sum: 35, min: 4, max: 21, median: 10 },
        openedAt: { type: 'time', answered: 3, median: '06:45', earliest: '06:10', latest: '07:00' },
        remarks: { type: 'text', answered: 1 },
        // Only v2 has it: the v1 unit is unanswered.
        police: { type: 'boolean', yes: 1, no: 0, unanswered: 2 },
        // Retyped: the v1 integer answer never mixes with the v2 single choice.
        retyped: { type: 'single', counts: { a: 0, b: 1 }, unanswered: 2 },
        dropped: { type: 'boolean', yes: 1, no: 0, unanswered: 2 },
      },
    });
    // An even count: the median is the mean of the two middle values.
    await db.query(insertSql, [
      JSON.stringify([
        { ...newReport('checklist'), centre_code: '130201001', form_version: 2, answers: { waiting: 15 } },
      ]),
      admin.id,
    ]);
    expect((await read({ app }, admin, 'checklist')('national')).rows[0].questions.waiting).toMatchObject({
      answered: 4,
      sum: 50,
      mean: 12.5,
      median: 12.5,
    });
    await expectAnalysisMatchesRecount(db, 'checklist', read({ app }, admin, 'checklist'));
  });

  it('counts a later report instead, and the one before again when the later one is rejected', async () => {
    const centre = '010102002';
    const first = {
      ...newReport('checklist'),
      centre_code: centre,
      form_version: 2,
      observed_at: '2024-07-28T10:00:00Z',
      answers: { witnesses: true },
    };
    const later = {
      ...newReport('checklist'),
      centre_code: centre,
      form_version: 2,
      observed_at: '2024-07-28T11:00:00Z',
      answers: { witnesses: false },
    };
    await db.query(insertSql, [JSON.stringify([first, later]), admin.id]);
    const parish = async () =>
      (await read({ app }, admin, 'checklist')('parish')).rows.find((row: { code: string }) => row.code === '010102')
        .questions.witnesses;
    const before = await parish();
    await db.query("UPDATE reports SET review_state = 'rejected' WHERE id = $1", [later.id]);
    const after = await parish();
    expect(after.yes - before.yes).toBe(1);
    expect(after.no - before.no).toBe(-1);
    await expectAnalysisMatchesRecount(db, 'checklist', read({ app }, admin, 'checklist'));
  });

  it('reuses stored rows parsed by their row version: unchanged rows come without counts, changed ones again', async () => {
    await publish(db, 'rowcache', 'centre', [[{ key: 'seen', type: 'boolean' }]]);
    const report = (centre: string, seen: boolean) => ({
      ...newReport('checklist'),
      kind: 'rowcache',
      centre_code: centre,
      table_number: null,
      form_version: 1,
      answers: { seen },
    });
    const zulia = report('130101001', true);
    await db.query(insertSql, [
      JSON.stringify([report('010101001', true), zulia, report('130201001', false)]),
      admin.id,
    ]);
    await app.services.log.integrateAll();
    const reads = read({ app }, admin, 'rowcache');
    await expectAnalysisMatchesRecount(db, 'rowcache', reads);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const tokens = async () =>
        (
          await db.query<{ token: string }>(
            `SELECT code || ' ' || stripe || ' ' || xmin::text || ' ' || ctid::text AS token FROM analysis_tallies
             WHERE form_key = 'rowcache' AND level = 'state' ORDER BY code`,
          )
        ).map((row) => row.token);
      const stateRows = async (known: string[]) =>
        (
          await analysisRepository.read(preparedQuery(pool), 'rowcache', { level: 'state', root: null }, known)
        ).rows.flatMap((row) =>
          row.stored
            ? [{ code: row.code, stored: row.stored.map((stripe) => [stripe.token, stripe.counts !== null]) }]
            : [],
        );
      const before = await tokens();
      expect(before).toHaveLength(2);
      expect(await stateRows([])).toEqual([
        { code: '01', stored: [[before[0], true]] },
        { code: '13', stored: [[before[1], true]] },
      ]);
      expect(await stateRows(before)).toEqual([
        { code: '01', stored: [[before[0], false]] },
        { code: '13', stored: [[before[1], false]] },
      ]);
      // A revision in Zulia rewrites its state's row (a new row version): only that one comes with its counts.
      await db.query(`UPDATE reports SET answers = '{"seen": false}', revision = revision + 1 WHERE id = $1`, [
        zulia.id,
      ]);
      const after = await tokens();
      expect(after[0]).toBe(before[0]);
      expect(after[1]).not.toBe(before[1]);
      expect(await stateRows(before)).toEqual([
        { code: '01', stored: [[before[0], false]] },
        { code: '13', stored: [[after[1], true]] },
      ]);
    } finally {
      await pool.end();
    }
    // The service's reads (which hold the rows they parsed) stay equal to the recount: after the revision, with a
    // report still queued for the log (the pending delta added to a reused row), and once it is integrated.
    await expectAnalysisMatchesRecount(db, 'rowcache', reads);
    await db.query(insertSql, [JSON.stringify([report('130101001', true), report('010101001', false)]), admin.id]);
    await expectAnalysisMatchesRecount(db, 'rowcache', reads);
    const zuliaSeen = async () =>
      (await reads('state')).rows.find((row: { code: string }) => row.code === '13').questions.seen;
    const queued = await zuliaSeen();
    await app.services.log.integrateAll();
    expect(await zuliaSeen()).toEqual(queued);
    await expectAnalysisMatchesRecount(db, 'rowcache', reads);
  });

  it('scopes like summaries: a coordinator sees their state, observers 403, unknown forms and parents 404, ETags', async () => {
    const coordinator = await createActor(app, 'coordinator', { scopeRegion: '13' });
    const states = await read({ app }, coordinator, 'checklist')('state');
    expect(states.rows.map((row: { code: string }) => row.code)).toEqual(['13']);
    const get = (actor: TestActor | undefined, url: string, headers: Record<string, string> = {}) =>
      as(app, actor)({ url, headers });
    expect((await get(coordinator, '/v1/analysis/national?kind=checklist')).statusCode).toBe(403);
    expect((await get(coordinator, '/v1/analysis?kind=checklist&level=state&parent=01')).statusCode).toBe(404);
    const observer = await createActor(app, 'observer');
    expect((await get(observer, '/v1/analysis?kind=checklist&level=state')).statusCode).toBe(403);
    expect((await get(undefined, '/v1/analysis?kind=checklist&level=state')).statusCode).toBe(401);
    const unknown = await get(admin, '/v1/analysis?kind=nosuchform&level=state');
    expect([unknown.statusCode, unknown.json().code]).toEqual([404, 'NOT_FOUND']);
    expect((await get(admin, '/v1/analysis?kind=checklist&level=centre')).statusCode).toBe(400);
    const first = await get(admin, '/v1/analysis?kind=checklist&level=state');
    const tag = first.headers.etag as string;
    expect(tag).toBeTruthy();
    expect((await get(admin, '/v1/analysis?kind=checklist&level=state', { 'if-none-match': tag })).statusCode).toBe(
      304,
    );
  });

  it('is public with PUBLIC_SUMMARIES=true', async () => {
    await seedRegistry(open.app, open.admin);
    await publish(open.db, 'checklist', 'centre', [CHECKLIST_V1]);
    const response = await open.app.inject('/v1/analysis/national?kind=checklist');
    expect(response.statusCode).toBe(200);
    expect(response.json().rows[0].units).toEqual({ total: 5, reporting: 0 });
  });
});

describe('analysis under concurrent writes', () => {
  it('equals a recount after thousands of inserts, retries, batches, revisions and reviews, and after a rebuild', {
    timeout: 240_000,
  }, async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 8 });
    const sent: NewReport[] = [];
    const OPERATIONS = 2_000;
    const statuses = new Map<string, number>();
    const count = (what: string) => statuses.set(what, (statuses.get(what) ?? 0) + 1);
    const operation = async () => {
      const roll = random();
      const kind = random() < 0.7 ? 'checklist' : 'tablecheck';
      if (sent.length < 20 || roll < 0.35) {
        const report = newReport(kind);
        await pool.query(insertSql, [JSON.stringify([report]), admin.id]);
        sent.push(report);
        count('insert');
      } else if (roll < 0.45) {
        // A retry of an id already sent (ON CONFLICT DO NOTHING: no change).
        await pool.query(insertSql, [JSON.stringify([pick(sent)]), admin.id]);
        count('retry');
      } else if (roll < 0.55) {
        const batch = Array.from({ length: 10 }, () => newReport(kind));
        await pool.query(insertSql, [JSON.stringify(batch), admin.id]);
        sent.push(...batch);
        count('batch');
      } else if (roll < 0.75) {
        const report = pick(sent);
        const answers =
          report.kind === 'checklist' ? checklistAnswers(report.form_version) : newReport('tablecheck').answers;
        await pool.query(
          `UPDATE reports SET answers = $2, observed_at = observed_at + make_interval(mins => $3), revision = revision + 1,
                  review_state = 'unreviewed', updated_at = now() WHERE id = $1`,
          [report.id, JSON.stringify(answers), Math.floor(random() * 3) - 1],
        );
        count('revise');
      } else if (roll < 0.9) {
        await pool.query('UPDATE reports SET review_state = $2 WHERE id = $1', [
          pick(sent).id,
          pick(['verified', 'flagged', 'rejected', 'rejected']),
        ]);
        count('review');
      } else {
        // Flags only: cannot change an analysis (skipped by the trigger).
        await pool.query("UPDATE reports SET flags = array_append(flags, 'conflict') WHERE id = $1", [pick(sent).id]);
        count('flag');
      }
    };
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: 12 }, async () => {
          while (next < OPERATIONS) {
            next += 1;
            await operation();
          }
        }),
      );
    } finally {
      await pool.end();
    }
    console.log(`analysis consistency: ${OPERATIONS} operations ${JSON.stringify(Object.fromEntries(statuses))}`);
    const [stored] = await db.query<{ reports: number; rejected: number }>(
      "SELECT count(*)::int AS reports, count(*) FILTER (WHERE review_state = 'rejected')::int AS rejected FROM reports",
    );
    expect(stored!.reports).toBeGreaterThan(1500);
    expect(stored!.rejected).toBeGreaterThan(0);

    for (const kind of ['checklist', 'tablecheck'])
      await expectAnalysisMatchesRecount(db, kind, read({ app }, admin, kind));
    const tallies = () =>
      db.query(
        `SELECT t.form_key, t.level, t.code, c.key, sum(c.units::int)::int AS units
         FROM analysis_tallies t CROSS JOIN LATERAL jsonb_each_text(t.counts) AS c(key, units)
         GROUP BY 1, 2, 3, 4 HAVING sum(c.units::int) <> 0 ORDER BY 1, 2, 3, 4`,
      );
    const units = () =>
      db.query('SELECT * FROM analysis_units WHERE report_id IS NOT NULL ORDER BY form_key, centre_code, table_number');
    // New reports enter the stored tallies when the log integrates them (until then reads add them from its
    // queue): once it has, the stored rows equal a rebuild from the reports.
    await app.services.log.integrateAll();
    const [talliesBefore, unitsBefore] = [await tallies(), await units()];
    await db.query('SELECT testigo_analysis_rebuild()');
    expect(await tallies()).toEqual(talliesBefore);
    expect(await units()).toEqual(unitsBefore);
    for (const kind of ['checklist', 'tablecheck'])
      await expectAnalysisMatchesRecount(db, kind, read({ app }, admin, kind));
  });
});
