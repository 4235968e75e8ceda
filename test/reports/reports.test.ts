import { beforeAll, describe, expect, it } from 'vitest';
import { acceptedReportSchema, batchResult } from '../../src/features/reports/reports.schemas.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { ELECTION, registryWithTables, reportPayload, seedRegistry, setElection } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const asAdmin = as(app, admin);
let observer: TestActor;
let other: TestActor;
let coordinator: TestActor;
let outsider: TestActor;

const election = ELECTION;
/** Tables 101-140 (700 voters each) at 010101001 and 010102001, one per test that files results. */
const OWN_TABLES = 40;
let lastTable = 100;
const ownTable = () => {
  lastTable += 1;
  if (lastTable > 100 + OWN_TABLES) throw new Error('reports.test: out of tables of its own');
  return lastTable;
};
/** A results report on a table of its own (no other test's results there). */
const results = (overrides: Record<string, unknown> = {}) => reportPayload('results', overrides, { table: ownTable() });
const voting = () => reportPayload('voting');
const submit = (actor: TestActor, payload: unknown) =>
  as(app, actor)({ method: 'POST', url: '/v1/reports', payload: payload as object });

beforeAll(async () => {
  await seedRegistry(app, admin, registryWithTables(OWN_TABLES, ['010101001', '010102001']));
  await setElection(app, admin);
  observer = await createActor(app, 'observer');
  other = await createActor(app, 'observer');
  coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
  outsider = await createActor(app, 'coordinator', { scopeRegion: '13' });
  for (const user of [observer, other]) {
    expect(
      (
        await asAdmin({
          method: 'PUT',
          url: `/v1/users/${user.id}/assignments`,
          payload: { centres: ['010101001', '010102001'] },
        })
      ).statusCode,
    ).toBe(200);
  }
});

describe('GET /v1/forms', () => {
  it('lists every kind with its version and JSON Schema', async () => {
    const body = (await as(app, observer)('/v1/forms')).json();
    expect(body.items.map((form: { kind: string }) => form.kind)).toEqual([
      'arrival',
      'opening',
      'voting',
      'closing',
      'results',
      'incident',
    ]);
    const resultsForm = body.items.find((form: { kind: string }) => form.kind === 'results');
    expect(resultsForm).toMatchObject({ version: 1, schema: { type: 'object', additionalProperties: false } });
    expect(resultsForm.schema.required).toEqual(
      expect.arrayContaining(['registeredVoters', 'validVotes', 'nullVotes', 'votes', 'citizenAudit']),
    );
    expect(body.incidentCategories).toContain('vote_buying');
  });
});

describe('PUT /v1/election', () => {
  it.each([
    ['a bad time zone', { ...election, timeZone: 'Mars/Olympus' }],
    [
      'repeated candidates',
      {
        ...election,
        candidates: [
          { code: 'EG', name: 'A' },
          { code: 'EG', name: 'B' },
        ],
      },
    ],
    ['a bad date', { ...election, date: '28/07/2024' }],
  ])('rejects %s', async (_name, payload) => {
    expect((await asAdmin({ method: 'PUT', url: '/v1/election', payload })).json().code).toBe('VALIDATION_FAILED');
  });
  it('is for admins only', async () => {
    expect((await as(app, coordinator)({ method: 'PUT', url: '/v1/election', payload: election })).statusCode).toBe(
      403,
    );
    expect((await as(app, observer)('/v1/election')).json()).toMatchObject({
      name: 'Presidential 2024',
      timeZone: 'America/Caracas',
    });
  });
});

describe('POST /v1/reports', () => {
  it('stores a report with the server stamps: 201', async () => {
    const payload = voting();
    const response = await submit(observer, payload);
    expect(response.statusCode).toBe(201);
    const report = response.json();
    expect(report).toMatchObject({
      id: payload.id,
      kind: 'voting',
      centreCode: '010101001',
      table: null,
      observerId: observer.id,
      formVersion: 1,
      revision: 1,
      reviewState: 'unreviewed',
      flags: [],
      region: { stateCode: '01', municipalityCode: '0101', parishCode: '010101' },
    });
    expect(report.submissionHash).toMatch(/^[0-9a-f]{64}$/);
    expect(report.contentHash).toBe(report.submissionHash);
    expect(Date.now() - Date.parse(report.receivedAt)).toBeLessThan(60_000);
    const [audit] = await db.query('SELECT actor_id, action FROM audit_entries WHERE entity_id = $1', [payload.id]);
    expect(audit).toEqual({ actor_id: observer.id, action: 'report.accepted' });
  });

  it('answers a retry with 200 and the same body, whoever retries', async () => {
    const payload = voting();
    const first = await submit(observer, payload);
    const again = await submit(observer, payload);
    const byAdmin = await submit(admin as TestActor, payload);
    expect([first.statusCode, again.statusCode, byAdmin.statusCode]).toEqual([201, 200, 200]);
    expect(again.body).toBe(first.body);
    expect(byAdmin.body).toBe(first.body);
    // Key order and time zone notation do not matter: the content is canonical.
    const reordered = {
      ...payload,
      observedAt: '2024-07-28T06:00:00-04:00',
      answers: Object.fromEntries(Object.entries(payload.answers).reverse()),
    };
    expect((await submit(observer, reordered)).statusCode).toBe(200);
    expect(await db.query('SELECT 1 FROM reports WHERE id = $1', [payload.id])).toHaveLength(1);
  });

  it('answers 409 REPORT_CONFLICT naming the differing fields when the same id comes with other content', async () => {
    const payload = results();
    expect((await submit(observer, payload)).statusCode).toBe(201);
    const response = await submit(observer, {
      ...payload,
      answers: { ...payload.answers, votes: { EG: 301, NM: 190, LM: 10 } },
      notes: 'x',
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'REPORT_CONFLICT', fields: ['answers.votes.EG', 'notes'] });
  });

  it('stores implausible tally sheets, flagged with their reasons', async () => {
    const payload = results({
      registeredVoters: 500,
      validVotes: 600,
      nullVotes: 5,
      votes: { EG: 300, NM: 200, LM: 50 },
    });
    const report = (await submit(observer, payload)).json();
    expect(report.flags.sort()).toEqual(['over_registered', 'registered_voters_mismatch', 'votes_sum_mismatch']);
  });

  it('keeps two disagreeing results of one table, both flagged conflict, and clears it when they agree', async () => {
    const first = { ...results(), centreCode: '010102001' };
    const second = {
      ...reportPayload('results', { votes: { EG: 250, NM: 240, LM: 10 } }, { table: first.table }),
      centreCode: '010102001',
    };
    expect((await submit(observer, first)).statusCode).toBe(201);
    expect((await submit(other, second)).json().flags).toContain('conflict');
    expect((await as(app, admin)(`/v1/reports/${first.id}`)).json().flags).toContain('conflict');
    // A revision that makes them agree clears the conflict of both.
    const revised = await as(
      app,
      other,
    )({
      method: 'POST',
      url: `/v1/reports/${second.id}/revisions`,
      payload: { answers: first.answers, reason: 'misread the sheet' },
    });
    expect(revised.statusCode).toBe(201);
    expect(revised.json().flags).not.toContain('conflict');
    expect((await asAdmin(`/v1/reports/${first.id}`)).json().flags).not.toContain('conflict');
  });

  it.each([
    [
      'an unknown candidate',
      () => results({ votes: { EG: 300, XX: 200 } }),
      422,
      'REPORT_INVALID',
      /XX is not a candidate/,
    ],
    ['a table the centre lacks', () => ({ ...results(), table: 9 }), 422, 'REPORT_INVALID', /has no table 9/],
    [
      'a time in the future',
      () => ({ ...voting(), observedAt: new Date(Date.now() + 3_600_000).toISOString() }),
      422,
      'REPORT_INVALID',
      /future/,
    ],
    [
      'a centre not assigned to the observer',
      () => ({ ...voting(), centreCode: '130101001' }),
      422,
      'REPORT_INVALID',
      /not assigned to you/,
    ],
    [
      'an unknown centre',
      () => ({ ...voting(), centreCode: '999999999' }),
      422,
      'REPORT_INVALID',
      /not in the registry/,
    ],
    [
      'results without a table',
      () => {
        const r: Record<string, unknown> = results();
        delete r.table;
        return r;
      },
      400,
      'VALIDATION_FAILED',
      /table/,
    ],
    [
      'an unknown answer field',
      () => ({ ...voting(), answers: { ...voting().answers, mood: 'calm' } }),
      400,
      'VALIDATION_FAILED',
      /answers/,
    ],
    [
      'a missing answer',
      () => ({ ...voting(), answers: { queueLength: 'long' } }),
      400,
      'VALIDATION_FAILED',
      /answers\.waitingMinutes/,
    ],
    ['an unknown kind', () => ({ ...voting(), kind: 'gossip' }), 400, 'VALIDATION_FAILED', /kind/],
    [
      'a server field',
      () => ({ ...voting(), receivedAt: '2024-07-28T10:00:00Z' }),
      400,
      'VALIDATION_FAILED',
      /receivedAt/,
    ],
    ['an id that is not a UUID', () => ({ ...voting(), id: '42' }), 400, 'VALIDATION_FAILED', /id/],
    [
      'an incident with an unknown category',
      () => ({ ...voting(), kind: 'incident', answers: { category: 'weather', severity: 'low', description: 'rain' } }),
      400,
      'VALIDATION_FAILED',
      /category/,
    ],
  ])('rejects %s and stores nothing', async (_name, make, status, code, message) => {
    const payload = make() as { id: string };
    const response = await submit(observer, payload);
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().code).toBe(code);
    expect(response.json().detail).toMatch(message);
    expect(await db.query('SELECT 1 FROM reports WHERE id::text = $1', [payload.id])).toHaveLength(0);
  });

  it('lets a coordinator report in its region only, and never an analyst', async () => {
    expect((await submit(coordinator, voting())).statusCode).toBe(201);
    expect((await submit(outsider, voting())).json().code).toBe('REPORT_INVALID');
    const analyst = await createActor(app, 'analyst');
    expect((await submit(analyst, voting())).statusCode).toBe(403);
  });
});

describe('POST /v1/reports/batch', () => {
  it('handles each item on its own', async () => {
    const good = voting();
    const existing = voting();
    expect((await submit(observer, existing)).statusCode).toBe(201);
    const response = await as(
      app,
      observer,
    )({
      method: 'POST',
      url: '/v1/reports/batch',
      payload: {
        reports: [
          good,
          existing,
          { ...existing, notes: 'changed' },
          { ...voting(), centreCode: '130101001' },
          { nonsense: true },
        ],
      },
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ created: 1, replayed: 1, failed: 3 });
    expect(body.results.map((r: { status: string; httpStatus: number }) => [r.status, r.httpStatus])).toEqual([
      ['created', 201],
      ['replayed', 200],
      ['conflict', 409],
      ['invalid', 422],
      ['invalid', 400],
    ]);
    expect(body.results[2].problem).toMatchObject({ code: 'REPORT_CONFLICT', fields: ['notes'] });
    expect(body.results[4].id).toBeNull();
  });

  it('answers exactly what the schemas of POST /v1/reports and /batch say (written without zod on the way out)', async () => {
    const payload = voting();
    const created = await submit(observer, payload);
    const replayed = await submit(observer, payload);
    const batch = await as(
      app,
      observer,
    )({
      method: 'POST',
      url: '/v1/reports/batch',
      payload: { reports: [voting(), payload, { ...payload, notes: 'changed' }, { nonsense: true }] },
    });
    // Every key and value as the schema gives it: nothing the schema would drop, nothing it would convert.
    for (const response of [created, replayed])
      expect(acceptedReportSchema.parse(response.json())).toStrictEqual(response.json());
    expect(batchResult.parse(batch.json())).toStrictEqual(batch.json());
    expect(batch.json().results.map((item: { status: string }) => item.status)).toEqual([
      'created',
      'replayed',
      'conflict',
      'invalid',
    ]);
  });

  it('rejects more than 500 items', async () => {
    const response = await as(
      app,
      observer,
    )({ method: 'POST', url: '/v1/reports/batch', payload: { reports: Array.from({ length: 501 }, voting) } });
    expect(response.statusCode).toBe(400);
  });
});

describe('revisions and reviews', () => {
  it('keeps every version, shows the latest, and treats the same content again as a no-op', async () => {
    const payload = voting();
    await submit(observer, payload);
    const revise = (body: unknown, actor: TestActor = observer) =>
      as(app, actor)({ method: 'POST', url: `/v1/reports/${payload.id}/revisions`, payload: body as object });
    const changed = { answers: { ...payload.answers, waitingMinutes: 120 }, reason: 'queue grew' };
    const first = await revise(changed);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ revision: 2, answers: { waitingMinutes: 120 } });
    expect(first.json().contentHash).not.toBe(first.json().submissionHash);
    expect((await revise(changed)).statusCode).toBe(200);
    expect((await revise({ answers: payload.answers })).statusCode).toBe(400); // a reason is required
    expect((await revise(changed, other)).statusCode).toBe(404); // another observer cannot even see it
    expect(
      (await revise({ ...changed, answers: { ...changed.answers, waitingMinutes: 5 } }, coordinator)).statusCode,
    ).toBe(201);
    expect(
      (await revise({ ...changed, answers: { ...changed.answers, waitingMinutes: 6 } }, outsider)).statusCode,
    ).toBe(404);
    const history = (await as(app, observer)(`/v1/reports/${payload.id}/revisions`)).json().items;
    expect(
      history.map((revision: { number: number; reason: string | null }) => [revision.number, revision.reason]),
    ).toEqual([
      [1, null],
      [2, 'queue grew'],
      [3, 'queue grew'],
    ]);
    expect(history[0].answers.waitingMinutes).toBe(90);
    // The original stays the retry key.
    expect((await submit(observer, payload)).statusCode).toBe(200);
    await expect(db.query('UPDATE report_revisions SET reason = NULL')).rejects.toThrow(/append-only/);
  });

  it('records reviews in the report and the audit trail; rejecting one side settles a conflict', async () => {
    // On a table of its own, in 010102001 (the filter test below counts the verified results of 010101).
    const a = { ...results(), centreCode: '010102001' };
    const b = {
      ...reportPayload('results', { votes: { EG: 1, NM: 489, LM: 10 } }, { table: a.table }),
      centreCode: '010102001',
    };
    expect((await submit(observer, a)).statusCode).toBe(201);
    expect((await submit(other, b)).json().flags).toContain('conflict');
    const review = (id: string, state: string, actor: TestActor = coordinator) =>
      as(
        app,
        actor,
      )({ method: 'POST', url: `/v1/reports/${id}/review`, payload: { state, note: 'checked the photo' } });
    const rejected = await review(b.id, 'rejected');
    expect(rejected.statusCode).toBe(200);
    expect(rejected.json()).toMatchObject({
      reviewState: 'rejected',
      reviews: [{ state: 'rejected', note: 'checked the photo', reviewerId: coordinator.id }],
    });
    expect((await asAdmin(`/v1/reports/${a.id}`)).json().flags).not.toContain('conflict');
    expect((await review(a.id, 'verified')).json().reviewState).toBe('verified');
    expect((await review(a.id, 'verified', observer)).statusCode).toBe(403);
    expect((await review(a.id, 'verified', outsider)).statusCode).toBe(404);
    const [entry] = await db.query(
      "SELECT actor_id, details->>'state' AS state FROM audit_entries WHERE action = 'report.reviewed' AND entity_id = $1",
      [a.id],
    );
    expect(entry).toEqual({ actor_id: coordinator.id, state: 'verified' });
  });
});

describe('reading', () => {
  it('GET /v1/reports › pages newest first without repeats while reports keep arriving', async () => {
    for (let i = 0; i < 5; i += 1) expect((await submit(observer, voting())).statusCode).toBe(201);
    const seen: string[] = [];
    let url = '/v1/reports?kind=voting&limit=2';
    for (let page = 0; page < 50; page += 1) {
      const body = (await asAdmin(url)).json();
      seen.push(...body.items.map((report: { id: string }) => report.id));
      await submit(observer, voting()); // arrives while paging: newer than page 1, never in the later pages
      if (!body.nextCursor) break;
      url = `/v1/reports?kind=voting&limit=2&cursor=${body.nextCursor}`;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const [{ n }] = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM reports WHERE kind = 'voting'")) as [
      { n: number },
    ];
    expect(seen.length).toBeLessThan(n);
  });

  it('GET /v1/reports › an observer sees its own reports only', async () => {
    expect((await submit(observer, voting())).statusCode).toBe(201);
    expect((await submit(other, voting())).statusCode).toBe(201);
    const mine = (await as(app, other)('/v1/reports?limit=500')).json().items;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((report: { observerId: string }) => report.observerId === other.id)).toBe(true);
  });

  it('GET /v1/reports › a coordinator sees its region only', async () => {
    expect((await submit(observer, voting())).statusCode).toBe(201);
    expect((await submit(outsider, { ...voting(), centreCode: '130101001' })).statusCode).toBe(201);
    const region13 = (await as(app, outsider)('/v1/reports?limit=500')).json().items;
    expect(region13.length).toBeGreaterThan(0);
    expect(region13.every((report: { region: { stateCode: string } }) => report.region.stateCode === '13')).toBe(true);
  });

  it('GET /v1/reports › filters by flag', async () => {
    expect((await submit(observer, results({ validVotes: 600 }))).json().flags).toContain('votes_sum_mismatch');
    expect((await asAdmin('/v1/reports?flag=votes_sum_mismatch')).json().items.length).toBeGreaterThan(0);
  });

  it('GET /v1/reports › filters by region, kind and review state', async () => {
    const verified = results();
    expect((await submit(observer, verified)).statusCode).toBe(201);
    expect((await submit(observer, results())).statusCode).toBe(201);
    const review = await as(
      app,
      coordinator,
    )({ method: 'POST', url: `/v1/reports/${verified.id}/review`, payload: { state: 'verified' } });
    expect(review.statusCode, review.body).toBe(200);
    expect((await asAdmin('/v1/reports?region=010101&kind=results&review=verified')).json().items).toHaveLength(1);
  });

  it('GET /v1/reports › 400 VALIDATION_FAILED for an unknown kind', async () => {
    expect((await asAdmin('/v1/reports?kind=nope')).statusCode).toBe(400);
  });

  it("GET /v1/reports/{id} › 404 for another observer's report", async () => {
    const payload = voting();
    expect((await submit(observer, payload)).statusCode).toBe(201);
    expect((await as(app, other)(`/v1/reports/${payload.id}`)).statusCode).toBe(404);
  });

  it('exports as NDJSON and CSV with the answers flattened', async () => {
    expect((await submit(observer, results())).statusCode).toBe(201);
    const ndjson = await asAdmin('/v1/reports/export?kind=results&format=ndjson');
    expect(ndjson.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = ndjson.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const [{ n }] = (await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM reports WHERE kind = 'results'",
    )) as [{ n: number }];
    // Every report, then the line that says the export is complete.
    expect(lines.pop()).toEqual({ complete: true, rows: n });
    expect(lines).toHaveLength(n);
    expect(lines.every((line) => line.kind === 'results')).toBe(true);
    const csv = await asAdmin('/v1/reports/export?kind=results&format=csv');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="reports-.*\.csv"$/);
    const [header, ...rows] = csv.body.trim().split('\r\n');
    expect(header).toContain('answers.validVotes');
    expect(header!.endsWith('votes.EG,votes.NM,votes.LM')).toBe(true);
    expect(rows).toHaveLength(n);
    expect(csv.headers.trailer).toBe('x-export-rows');
    expect(csv.trailers).toEqual({ 'x-export-rows': String(n) });
    // Free text never reaches a spreadsheet as a formula.
    const hostile = { ...voting(), notes: '=HYPERLINK("http://evil.example","click")' };
    expect((await submit(other, hostile)).statusCode).toBe(201);
    const exported = (await as(app, other)('/v1/reports/export?format=csv')).body;
    expect(exported).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    const observerCsv = await as(app, other)('/v1/reports/export?format=csv');
    expect(
      observerCsv.body
        .trim()
        .split('\r\n')
        .slice(1)
        .every((row) => row.includes(other.id)),
    ).toBe(true);
  });
});
