// Integrity of reviewed reports and of submissions (issue 10, points 1, 2, 4 and 9): a revision resets the
// review, reviews record the revision they judged, nobody reviews their own words, a repeated review adds
// nothing, a report id reveals nothing to someone who cannot read it, and a batch never fails whole.
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { migrate } from '../../src/infra/db/migrator.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp, testConfig } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/db.js';
import { registrySample, seedRegistry, setElection } from '../helpers/factories.js';
import { expectTalliesMatchRecount } from '../summaries/recount.js';

const { app, db, admin } = await setupTestApp();
const sample = registrySample;
const asAdmin = as(app, admin);
let observer: TestActor;
let other: TestActor;
let coordinator: TestActor;
let reviewer: TestActor;
let outsider: TestActor;

const election = {
  name: 'Presidential 2024',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  candidates: [
    { code: 'EG', name: 'Edmundo González' },
    { code: 'NM', name: 'Nicolás Maduro' },
  ],
};
const results = (centreCode: string, table: number, votes: Record<string, number>) => ({
  id: randomUUID(),
  kind: 'results',
  centreCode,
  table,
  observedAt: '2024-07-28T22:15:00-04:00',
  answers: {
    registeredVoters: 600,
    validVotes: Object.values(votes).reduce((sum, count) => sum + count, 0),
    nullVotes: 10,
    votes,
    citizenAudit: true,
  },
});
const voting = (centreCode = '010101001') => ({
  id: randomUUID(),
  kind: 'voting',
  centreCode,
  observedAt: '2024-07-28T10:00:00Z',
  answers: {
    queueLength: 'long',
    waitingMinutes: 90,
    assistedVotingProblems: false,
    identificationProblems: true,
    securityForces: 'appropriate',
    propagandaNearby: false,
  },
});
const submit = (actor: TestActor, payload: unknown) =>
  as(app, actor)({ method: 'POST', url: '/v1/reports', payload: payload as object });
const batch = (actor: TestActor, reports: unknown[]) =>
  as(app, actor)({ method: 'POST', url: '/v1/reports/batch', payload: { reports } });
const revise = (actor: TestActor, id: string, answers: Record<string, unknown>, reason = 'misread the sheet') =>
  as(app, actor)({ method: 'POST', url: `/v1/reports/${id}/revisions`, payload: { answers, reason } });
const review = (actor: TestActor, id: string, state: string, extra: Record<string, unknown> = {}) =>
  as(app, actor)({ method: 'POST', url: `/v1/reports/${id}/review`, payload: { state, ...extra } });
const reviewRows = (id: string) =>
  db.query<{ state: string; revision: number }>(
    'SELECT state::text AS state, revision FROM report_reviews WHERE report_id = $1 ORDER BY id',
    [id],
  );
const auditRows = (id: string, action: string) =>
  db.query<{ details: Record<string, unknown> }>(
    'SELECT details FROM audit_entries WHERE entity_id = $1 AND action = $2 ORDER BY id',
    [id, action],
  );

beforeAll(async () => {
  await seedRegistry(app, admin);
  await setElection(app, admin, election);
  observer = await createActor(app, 'observer');
  other = await createActor(app, 'observer');
  coordinator = await createActor(app, 'coordinator', { scopeRegion: '13' });
  reviewer = await createActor(app, 'coordinator', { scopeRegion: '13' });
  outsider = await createActor(app, 'coordinator', { scopeRegion: '01' });
  for (const user of [observer, other]) {
    const centres = ['010101001', '130101001', '130201001'];
    expect(
      (await asAdmin({ method: 'PUT', url: `/v1/users/${user.id}/assignments`, payload: { centres } })).statusCode,
    ).toBe(200);
  }
});

describe('POST /v1/reports/:id/revisions', () => {
  it('resets a verified report to unreviewed, and the parish summary stops counting the verification', async () => {
    // Two observers agree on table 130201001#1 (parish 130201); the coordinator verifies the first.
    const r = results('130201001', 1, { EG: 300, NM: 200 });
    const s = { ...results('130201001', 1, { EG: 300, NM: 200 }) };
    expect((await submit(observer, r)).statusCode).toBe(201);
    expect((await submit(other, s)).statusCode).toBe(201);
    const verified = await review(coordinator, r.id, 'verified');
    expect(verified.statusCode, verified.body).toBe(200);
    expect(verified.json()).toMatchObject({
      reviewState: 'verified',
      revision: 1,
      reviews: [{ state: 'verified', revision: 1, reviewerId: coordinator.id }],
    });
    const parish = async () => (await asAdmin('/v1/summaries?level=parish&parent=1302')).json().items[0];
    expect(await parish()).toMatchObject({
      code: '130201',
      results: { tablesCounted: 1, votes: { EG: 300, NM: 200 } },
      flags: { verified: 1, unreviewed: 1 },
    });

    // The author rewrites the verified tally.
    const revised = await revise(observer, r.id, { ...r.answers, votes: { EG: 50, NM: 450 } });
    expect(revised.statusCode, revised.body).toBe(201);
    expect(revised.json()).toMatchObject({
      reviewState: 'unreviewed',
      revision: 2,
      answers: { votes: { EG: 50, NM: 450 } },
    });
    expect(revised.json().flags).toContain('conflict');
    const [audit] = await auditRows(r.id, 'report.revised');
    expect(audit!.details).toMatchObject({ revision: 2, reviewReset: true, previousReviewState: 'verified' });
    // Nothing verified wins the table any more: the two reports disagree, so it has no counted result.
    expect(await parish()).toMatchObject({
      results: { tablesCounted: 0, votes: {} },
      flags: { verified: 0, unreviewed: 2, conflicting: 2 },
    });
    const detail = (await asAdmin(`/v1/reports/${r.id}`)).json();
    expect(detail).toMatchObject({
      reviewState: 'unreviewed',
      revision: 2,
      reviews: [{ state: 'verified', revision: 1 }],
    });
    await expectTalliesMatchRecount(app, admin);

    // Verifying the revision it now is counts it again, and the review says which revision it judged.
    const again = await review(coordinator, r.id, 'verified');
    expect(again.json()).toMatchObject({ reviewState: 'verified', reviews: [{ revision: 1 }, { revision: 2 }] });
    expect(await parish()).toMatchObject({
      results: { tablesCounted: 1, votes: { EG: 50, NM: 450 } },
      flags: { verified: 1 },
    });
    await expectTalliesMatchRecount(app, admin);
    // And a rebuild from scratch agrees with what the triggers kept.
    const tallies = () =>
      db.query(`
      SELECT level, code, sum(tables_counted) AS tables, sum(verified) AS verified, sum(unreviewed) AS unreviewed, sum(valid_votes) AS valid
      FROM summary_tallies GROUP BY level, code HAVING sum(tables_counted) <> 0 OR sum(verified) <> 0 OR sum(unreviewed) <> 0 ORDER BY level, code`);
    const before = {
      tallies: await tallies(),
      tables: await db.query('SELECT * FROM table_results ORDER BY centre_code, table_number'),
    };
    await db.query('SELECT testigo_summaries_rebuild()');
    expect({
      tallies: await tallies(),
      tables: await db.query('SELECT * FROM table_results ORDER BY centre_code, table_number'),
    }).toEqual(before);
  });

  it('resets a flagged or rejected report too, noting that nothing was reset for an unreviewed one', async () => {
    const payload = voting('130101001');
    expect((await submit(observer, payload)).statusCode).toBe(201);
    expect((await revise(observer, payload.id, { ...payload.answers, waitingMinutes: 1 })).json().reviewState).toBe(
      'unreviewed',
    );
    expect((await review(coordinator, payload.id, 'rejected')).json().reviewState).toBe('rejected');
    expect((await revise(observer, payload.id, { ...payload.answers, waitingMinutes: 2 })).json()).toMatchObject({
      reviewState: 'unreviewed',
      revision: 3,
    });
    const audits = await auditRows(payload.id, 'report.revised');
    expect(audits.map((row) => [row.details.reviewReset, row.details.previousReviewState])).toEqual([
      [false, 'unreviewed'],
      [true, 'rejected'],
    ]);
  });
});

describe('POST /v1/reports/:id/review', () => {
  it('answers 403 REVIEW_NOT_ALLOWED to a coordinator or admin who wrote any revision, and records nothing', async () => {
    const payload = voting('130101001');
    expect((await submit(observer, payload)).statusCode).toBe(201);
    expect((await revise(coordinator, payload.id, { ...payload.answers, waitingMinutes: 30 })).statusCode).toBe(201);
    expect((await revise(admin, payload.id, { ...payload.answers, waitingMinutes: 31 })).statusCode).toBe(201);
    for (const author of [coordinator, admin]) {
      const refused = await review(author, payload.id, 'verified');
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ code: 'REVIEW_NOT_ALLOWED', status: 403 });
    }
    const own = await createActor(app, 'coordinator', { scopeRegion: '13' });
    const submitted = voting('130101001');
    expect((await submit(own, submitted)).statusCode).toBe(201);
    expect((await review(own, submitted.id, 'flagged')).statusCode).toBe(403);
    expect(await reviewRows(payload.id)).toEqual([]);
    expect(await auditRows(payload.id, 'report.reviewed')).toEqual([]);
    expect((await review(reviewer, payload.id, 'verified')).json()).toMatchObject({
      reviewState: 'verified',
      reviews: [{ revision: 3, reviewerId: reviewer.id }],
    });
  });

  it('answers the same state again with 200 and the report as it is, adding no review and no audit row', async () => {
    const payload = voting('130101001');
    expect((await submit(observer, payload)).statusCode).toBe(201);
    const first = await review(reviewer, payload.id, 'flagged', { note: 'blurry photo' });
    expect(first.statusCode).toBe(200);
    const again = await review(reviewer, payload.id, 'flagged', { note: 'clicked twice' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(await reviewRows(payload.id)).toEqual([{ state: 'flagged', revision: 1 }]);
    expect(await auditRows(payload.id, 'report.reviewed')).toHaveLength(1);
    // Another state is a normal review; so is the same state after a revision reset it.
    expect((await review(reviewer, payload.id, 'verified')).json().reviewState).toBe('verified');
    expect((await revise(observer, payload.id, { ...payload.answers, waitingMinutes: 10 })).statusCode).toBe(201);
    expect((await review(reviewer, payload.id, 'verified')).json()).toMatchObject({
      reviewState: 'verified',
      revision: 2,
    });
    expect(await reviewRows(payload.id)).toEqual([
      { state: 'flagged', revision: 1 },
      { state: 'verified', revision: 1 },
      { state: 'verified', revision: 2 },
    ]);
  });

  it.each([
    ['a checklist', () => voting('130101001')],
    ['a tally sheet', () => results('130101001', 2, { EG: 10, NM: 20 })],
  ])('records one review of %s when the same review arrives several times at once', async (_name, make) => {
    const payload = make();
    expect((await submit(observer, payload)).statusCode).toBe(201);
    const answers = await Promise.all(Array.from({ length: 6 }, () => review(reviewer, payload.id, 'verified')));
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(answers.every((answer) => answer.json().reviewState === 'verified')).toBe(true);
    expect(await reviewRows(payload.id)).toEqual([{ state: 'verified', revision: 1 }]);
    expect(await auditRows(payload.id, 'report.reviewed')).toHaveLength(1);
  });

  it('answers 409 REPORT_CONFLICT for a review of a revision that is no longer the current one', async () => {
    const payload = voting('130101001');
    expect((await submit(observer, payload)).statusCode).toBe(201);
    expect((await revise(observer, payload.id, { ...payload.answers, waitingMinutes: 3 })).statusCode).toBe(201);
    const stale = await review(reviewer, payload.id, 'verified', { revision: 1 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ code: 'REPORT_CONFLICT', fields: ['revision'] });
    expect(await reviewRows(payload.id)).toEqual([]);
    expect((await review(reviewer, payload.id, 'verified', { revision: 2 })).json().reviews).toMatchObject([
      { revision: 2 },
    ]);
  });
});

describe('POST /v1/reports › a report id reveals nothing to someone who cannot read it', () => {
  let stored: ReturnType<typeof results>;
  beforeAll(async () => {
    stored = results('130101001', 3, { EG: 123, NM: 45 });
    expect((await submit(observer, stored)).statusCode).toBe(201);
  });
  /** The text without its UUIDs (request and report ids), which may hold "123" by chance. */
  const withoutIds = (text: string) =>
    text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>');
  const guesses = () =>
    [
      ['its exact body', stored],
      ['a guessed body', { ...stored, answers: { ...stored.answers, votes: { EG: 124, NM: 45 } } }],
      [
        'a body the slow path handles (a time in the future)',
        { ...stored, observedAt: new Date(Date.now() + 86_400_000).toISOString() },
      ],
    ] as const;

  it.each([
    ['a coordinator of another region', () => outsider],
    ['another observer of the same centre', () => other],
  ])('409 REPORT_CONFLICT without fields or content to %s, single and batch alike', async (_name, who) => {
    const caller = who();
    for (const [what, body] of guesses()) {
      const response = await submit(caller, body);
      expect(response.statusCode, what).toBe(409);
      const problem = response.json();
      expect(problem.code, what).toBe('REPORT_CONFLICT');
      expect(problem.fields, what).toBeUndefined();
      expect(withoutIds(response.body), what).not.toMatch(/123|answers|votes|observerId/);
    }
    const answered = await batch(
      caller,
      guesses().map(([, body]) => body),
    );
    expect(answered.statusCode).toBe(200);
    for (const item of answered.json().results) {
      expect(item).toMatchObject({ status: 'conflict', httpStatus: 409, problem: { code: 'REPORT_CONFLICT' } });
      expect(item.report).toBeUndefined();
      expect(item.problem.fields).toBeUndefined();
      expect(withoutIds(JSON.stringify(item))).not.toMatch(/123|answers|votes/);
    }
  });

  it('still answers a reader with 200 and the stored report, or 409 naming what differs', async () => {
    for (const reader of [observer, coordinator, admin]) {
      const response = await submit(reader, stored);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ id: stored.id, answers: { votes: { EG: 123 } } });
    }
    const differs = await submit(coordinator, {
      ...stored,
      answers: { ...stored.answers, votes: { EG: 124, NM: 45 } },
    });
    expect(differs.json()).toMatchObject({ code: 'REPORT_CONFLICT', fields: ['answers.votes.EG'] });
    const replayed = (await batch(observer, [stored])).json().results[0];
    expect(replayed).toMatchObject({ status: 'replayed', httpStatus: 200, report: { id: stored.id } });
  });
});

describe('POST /v1/reports/batch › one item never fails the batch', () => {
  it('answers 200 with the good items stored when one item holds a NUL character', async () => {
    const good = [voting(), voting()];
    const bad = { ...voting(), notes: 'before\u0000after' };
    const response = await batch(observer, [good[0], bad, good[1]]);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ created: 2, failed: 1 });
    expect(body.results[0]).toMatchObject({ status: 'created', httpStatus: 201 });
    expect(body.results[2]).toMatchObject({ status: 'created', httpStatus: 201 });
    expect(body.results[1].status).not.toBe('created');
    expect(body.results[1].httpStatus).toBeGreaterThanOrEqual(400);
    expect(body.results[1].problem).toMatchObject({ status: body.results[1].httpStatus });
    expect(body.results[1].report).toBeUndefined();
    const ids = (
      await db.query<{ id: string }>('SELECT id FROM reports WHERE id = ANY($1::uuid[])', [
        [good[0]!.id, good[1]!.id, bad.id],
      ])
    ).map((row) => row.id);
    expect(ids.sort()).toEqual([good[0]!.id, good[1]!.id].sort());
  });

  it("answers an item the database failed on (a statement timeout) as that item's 5xx error, the others stored", async () => {
    const config = testConfig({ DATABASE_URL: db.url, DATABASE_STATEMENT_TIMEOUT_MS: '1500' });
    const impatient = await buildApp({ config, database: createDatabase(databaseOptions(config, db.url)) });
    // Another session holds the lock of table 130101001#1's results, as a long writer would.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT pg_advisory_xact_lock(hashtext('testigo.results'), hashtext('130101001#1'))");
      const good = voting('130101001');
      const blocked = results('130101001', 1, { EG: 1, NM: 2 });
      const started = Date.now();
      const response = await impatient.inject({
        method: 'POST',
        url: '/v1/reports/batch',
        headers: observer.headers,
        payload: { reports: [good, blocked] },
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(Date.now() - started).toBeLessThan(20_000);
      const [first, second] = response.json().results;
      expect(first).toMatchObject({ status: 'created', httpStatus: 201 });
      expect(second).toMatchObject({ status: 'error', id: blocked.id });
      expect(second.httpStatus).toBeGreaterThanOrEqual(500);
      // A statement timeout (57014, inside Prisma's P2010 wrapper) is the database not answering in time.
      expect(second).toMatchObject({ httpStatus: 503, problem: { status: 503, code: 'DATABASE_UNAVAILABLE' } });
      expect(await db.query('SELECT 1 FROM reports WHERE id = $1', [good.id])).toHaveLength(1);
      expect(await db.query('SELECT 1 FROM reports WHERE id = $1', [blocked.id])).toHaveLength(0);
      await holder.query('ROLLBACK');
      // Sent again once the lock is gone, it is stored.
      expect((await submit(observer, blocked)).statusCode).toBe(201);
    } finally {
      await holder.end();
      await impatient.close();
    }
  });
});

describe('migration 20261202100000_review_revision', () => {
  it('gives each stored review the revision it judged, and resets reports revised after their review', async () => {
    // A database at the migration before, with reports reviewed and then revised as the old code allowed.
    const legacy = await createTestDatabase({ migrated: false });
    const migrations = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));
    const before = await mkdtemp(join(tmpdir(), 'testigo-migrations-'));
    const buildOn = async () => {
      const config = testConfig({ DATABASE_URL: legacy.url, DATA_DIR: before });
      return buildApp({ config, database: createDatabase(databaseOptions(config, legacy.url)) });
    };
    try {
      await cp(migrations, before, {
        recursive: true,
        // Every migration but that one and the log's (which reads the column it adds): the app of today runs on it.
        filter: (source) => {
          const stamp = /\/(\d{14})_[^/]*$/.exec(source)?.[1];
          return stamp === undefined || (stamp !== '20261202100000' && stamp < '20261202150000');
        },
      });
      await migrate(legacy.url, { dir: before });
      const old = await buildOn();
      let chief: TestActor;
      const ids: Record<'r' | 's' | 'v' | 'w' | 'u', string> = { r: '', s: '', v: '', w: '', u: '' };
      try {
        chief = await createActor(old, 'admin');
        const author = await createActor(old, 'observer');
        const second = await createActor(old, 'observer');
        const judge = await createActor(old, 'coordinator');
        const call = (actor: TestActor, method: 'POST' | 'PUT', url: string, payload: unknown) =>
          old.inject({ method, url, headers: actor.headers, payload: payload as object });
        expect(
          (
            await old.inject({
              method: 'POST',
              url: '/v1/registry/import',
              headers: { ...chief.headers, 'content-type': 'text/csv' },
              body: sample,
            })
          ).statusCode,
        ).toBe(200);
        expect((await call(chief, 'PUT', '/v1/election', election)).statusCode).toBe(200);
        for (const user of [author, second])
          expect(
            (await call(chief, 'PUT', `/v1/users/${user.id}/assignments`, { centres: ['130101001'] })).statusCode,
          ).toBe(200);
        const send = async (actor: TestActor, payload: { id: string }) => {
          expect((await call(actor, 'POST', '/v1/reports', payload)).statusCode).toBe(201);
          return payload.id;
        };
        const r = results('130101001', 1, { EG: 300, NM: 200 });
        const w = results('130101001', 2, { EG: 10, NM: 20 });
        const v = voting('130101001');
        ids.r = await send(author, r);
        ids.s = await send(second, results('130101001', 1, { EG: 300, NM: 200 }));
        ids.v = await send(author, v);
        ids.w = await send(author, w);
        ids.u = await send(second, results('130101001', 2, { EG: 11, NM: 20 }));
        for (const [id, answers] of [
          [ids.r, { ...r.answers, votes: { EG: 50, NM: 450 } }],
          [ids.v, { ...v.answers, waitingMinutes: 5 }],
          [ids.w, { ...w.answers, votes: { EG: 12, NM: 20 } }],
        ] as const) {
          expect(
            (await call(author, 'POST', `/v1/reports/${id}/revisions`, { answers, reason: 'misread' })).statusCode,
          ).toBe(201);
        }
        // The old code's reviews: R verified and W rejected between their first and second revisions, V after its second.
        const judged = async (id: string, state: string, at: string) => {
          await legacy.query(
            `
            INSERT INTO report_reviews (report_id, state, reviewer_id, created_at)
            SELECT $1, $2::review_state, $3, ${at} FROM report_revisions one JOIN report_revisions two ON two.report_id = one.report_id AND two.number = 2
            WHERE one.report_id = $1 AND one.number = 1`,
            [id, state, judge.id],
          );
          await legacy.query('UPDATE reports SET review_state = $2::review_state WHERE id = $1', [id, state]);
        };
        await judged(ids.r, 'verified', 'one.created_at + (two.created_at - one.created_at) / 2');
        await judged(ids.w, 'rejected', 'one.created_at + (two.created_at - one.created_at) / 2');
        await judged(ids.v, 'verified', "two.created_at + interval '1 second'");
        // As the old conflict verdict left it: W rejected, so U agrees with nobody.
        await legacy.query("UPDATE reports SET flags = array_remove(flags, 'conflict') WHERE id IN ($1, $2)", [
          ids.w,
          ids.u,
        ]);
        const [counted] = await legacy.query<{ id: string }>(
          "SELECT report_id AS id FROM table_results WHERE centre_code = '130101001' AND table_number = 1",
        );
        expect(counted!.id).toBe(ids.r); // the bug: the verification of revision 1 wins the table with revision 2's numbers
      } finally {
        await old.close();
      }

      expect((await migrate(legacy.url)).applied[0]).toBe('20261202100000_review_revision');
      const reviews = await legacy.query<{ id: string; revision: number }>(
        'SELECT report_id AS id, revision FROM report_reviews ORDER BY id',
      );
      expect(Object.fromEntries(reviews.map((row) => [row.id, row.revision]))).toEqual({
        [ids.r]: 1,
        [ids.w]: 1,
        [ids.v]: 2,
      });
      const states = await legacy.query<{ id: string; state: string; flags: string[] }>(
        'SELECT id, review_state::text AS state, flags FROM reports',
      );
      const stateOf = Object.fromEntries(states.map((row) => [row.id, row]));
      expect([ids.r, ids.s, ids.v, ids.w, ids.u].map((id) => stateOf[id]!.state)).toEqual([
        'unreviewed',
        'unreviewed',
        'verified',
        'unreviewed',
        'unreviewed',
      ]);
      expect(stateOf[ids.w]!.flags).toContain('conflict');
      expect(stateOf[ids.u]!.flags).toContain('conflict');
      const resets = await legacy.query<{ id: string; details: Record<string, unknown> }>(
        "SELECT entity_id AS id, details FROM audit_entries WHERE action = 'report.review_reset' ORDER BY entity_id",
      );
      expect(Object.fromEntries(resets.map((row) => [row.id, row.details.previousReviewState]))).toEqual({
        [ids.r]: 'verified',
        [ids.w]: 'rejected',
      });
      expect(await legacy.query("SELECT 1 FROM table_results WHERE centre_code = '130101001'")).toEqual([]);
      const after = await buildOn();
      try {
        await expectTalliesMatchRecount(after, chief!);
      } finally {
        await after.close();
      }
    } finally {
      await legacy.drop();
      await rm(before, { recursive: true, force: true });
    }
  });
});
