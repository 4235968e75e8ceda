// Submissions that share one insert statement (the service's micro-batches): each is answered on its own —
// retries of one id replay, a failing item fails alone, disagreeing results of a table are all flagged.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReportInput } from '../../src/features/reports/reports.service.js';
import type { Actor } from '../../src/infra/auth/actor.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { seedRegistry } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const service = app.services.reports;
const election = {
  name: 'Presidential 2024',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  openingTime: '06:00',
  updatedAt: '2024-07-01T00:00:00.000Z',
  candidates: [
    { code: 'EG', name: 'Edmundo González' },
    { code: 'NM', name: 'Nicolás Maduro' },
  ],
};
let observer: TestActor;
let context: { actor: Actor; requestId: string; ip: string };

const opening = (notes = 'on time'): ReportInput => ({
  id: randomUUID(),
  kind: 'opening',
  centreCode: '010101001',
  table: 1,
  observedAt: '2024-07-28T10:05:00Z',
  notes,
  answers: { openedAt: '06:04', tableStaffComplete: true, zeroReportPrinted: true, witnessesPresent: ['EG'] },
});
const results = (table: number, votes: Record<string, number>): ReportInput => ({
  id: randomUUID(),
  kind: 'results',
  centreCode: '010101001',
  table,
  observedAt: '2024-07-28T22:00:00Z',
  answers: {
    registeredVoters: table === 1 ? 760 : 737, // the registry's 010101001 (010102001 table 1 has 512)
    validVotes: votes.EG! + votes.NM!,
    nullVotes: 3,
    votes,
    citizenAudit: false,
  },
});
/** Submits every input in the same turn of the event loop: they share the first insert statement. */
const together = (inputs: ReportInput[]) =>
  Promise.allSettled(inputs.map((input) => service.submit(context, input, election)));
const counts = async (id: string) =>
  (
    await db.query<{ reports: number; revisions: number; accepted: number }>(
      `SELECT (SELECT count(*)::int FROM reports WHERE id = $1::uuid) AS reports, (SELECT count(*)::int FROM report_revisions WHERE report_id = $1::uuid) AS revisions,
          (SELECT count(*)::int FROM audit_entries WHERE action = 'report.accepted' AND entity_id = $2) AS accepted`,
      [id, id],
    )
  )[0];

beforeAll(async () => {
  await seedRegistry(app, admin);
  observer = await createActor(app, 'observer');
  expect(
    (
      await as(
        app,
        admin,
      )({
        method: 'PUT',
        url: `/v1/users/${observer.id}/assignments`,
        payload: { centres: ['010101001', '010102001'] },
      })
    ).statusCode,
  ).toBe(200);
  context = {
    actor: {
      userId: observer.id,
      name: 'observer',
      role: 'observer',
      scopeRegionCode: null,
      tokenId: observer.tokenId,
    },
    requestId: 'micro-batch-test',
    ip: '127.0.0.1',
  };
});

describe('reports submitted together', () => {
  it('store a retry of one id once: one created, the others replay the same report', async () => {
    const report = opening();
    const answers = await together([report, report, { ...report, id: report.id.toUpperCase() }]);
    const values = answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : answer.reason));
    // Which of three identical sends is stored first depends on when each finishes its checks (it was the second
    // once, on a loaded CI runner): exactly one is created and the others replay that same report.
    expect(values.map((value) => value.status).sort()).toEqual(['created', 'replayed', 'replayed']);
    const created = values.find((value) => value.status === 'created');
    for (const value of values) expect(value.report).toEqual(created.report);
    expect(await counts(report.id)).toEqual({ reports: 1, revisions: 1, accepted: 1 });
  });

  it('answer 409 REPORT_CONFLICT to the same id with other content', async () => {
    const report = opening();
    const [first, second] = await together([report, { ...report, notes: 'late' }]);
    expect(first).toMatchObject({ status: 'fulfilled', value: { status: 'created' } });
    expect(second).toMatchObject({
      status: 'rejected',
      reason: { code: 'REPORT_CONFLICT', extra: { fields: ['notes'] } },
    });
  });

  it('fail only the item the database refuses: the others are stored with their audit rows', async () => {
    await db.query(`
      CREATE FUNCTION test_refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.notes = 'boom' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER test_refuse_boom AFTER INSERT ON reports FOR EACH ROW EXECUTE FUNCTION test_refuse_boom();`);
    try {
      const inputs = [opening(), opening('boom'), opening(), results(2, { EG: 500, NM: 100 })];
      const answers = await together(inputs);
      expect(answers.map((answer) => answer.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(String((answers[1] as PromiseRejectedResult).reason)).toMatch(/refused by a trigger/);
      for (const [index, input] of inputs.entries()) {
        expect(await counts(input.id)).toEqual(
          index === 1 ? { reports: 0, revisions: 0, accepted: 0 } : { reports: 1, revisions: 1, accepted: 1 },
        );
      }
      const [audit] = await db.query(
        'SELECT actor_id, actor_role, request_id, ip, details FROM audit_entries WHERE entity_id = $1',
        [inputs[0]!.id],
      );
      expect(audit).toEqual({
        actor_id: observer.id,
        actor_role: 'observer',
        request_id: 'micro-batch-test',
        ip: '127.0.0.1',
        details: { kind: 'opening', centre: '010101001', table: 1, hash: expect.any(String) },
      });
    } finally {
      await db.query('DROP TRIGGER test_refuse_boom ON reports; DROP FUNCTION test_refuse_boom();');
    }
  });

  it('work under AFTER INSERT and UPDATE triggers on reports (row and statement level, with transition tables)', async () => {
    await db.query(`
      CREATE TABLE test_seen (event text, n int);
      CREATE FUNCTION test_seen_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO test_seen SELECT TG_OP, count(*) FROM changed; RETURN NULL; END $$;
      CREATE TRIGGER test_seen_insert AFTER INSERT ON reports REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION test_seen_rows();
      CREATE TRIGGER test_seen_update AFTER UPDATE ON reports REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION test_seen_rows();`);
    try {
      const answers = await together([opening(), opening(), results(2, { EG: 1, NM: 2 })]);
      expect(answers.map((answer) => answer.status === 'fulfilled' && answer.value.status)).toEqual([
        'created',
        'created',
        'created',
      ]);
      const seen = await db.query<{ event: string; n: number }>('SELECT event, n FROM test_seen ORDER BY event, n');
      expect(
        seen
          .filter((row) => row.event === 'INSERT')
          .map((row) => row.n)
          .sort(),
      ).toEqual([1, 2]);
      expect(seen.some((row) => row.event === 'UPDATE' && row.n > 0)).toBe(true); // the verdict flagged table 2 `conflict`
    } finally {
      await db.query(
        'DROP TRIGGER test_seen_insert ON reports; DROP TRIGGER test_seen_update ON reports; DROP FUNCTION test_seen_rows(); DROP TABLE test_seen;',
      );
    }
  });

  it('flag disagreeing results of one table `conflict`, in the answers and in the store, and leave agreeing ones alone', async () => {
    const agreeing = [results(1, { EG: 400, NM: 200 }), results(1, { EG: 400, NM: 200 })];
    const disagreeing = [results(1, { EG: 401, NM: 200 })];
    const first = await together(agreeing);
    expect(first.map((answer) => answer.status === 'fulfilled' && answer.value.report.flags)).toEqual([[], []]);
    const second = await together([
      ...disagreeing,
      results(1, { EG: 402, NM: 200 }),
      { ...results(1, { EG: 300, NM: 100 }), centreCode: '010102001' },
    ]);
    const answers = second.map((answer) => (answer.status === 'fulfilled' ? answer.value : answer.reason));
    const reports = answers.map((answer) => answer.report);
    expect(reports.map((report) => report.flags)).toEqual([['conflict'], ['conflict'], ['registered_voters_mismatch']]);
    const stored = await db.query<{ id: string; flags: string[] }>(
      "SELECT id, flags FROM reports WHERE kind = 'results' AND centre_code = '010101001' AND table_number = 1",
    );
    expect(stored.map((row) => row.flags)).toEqual([['conflict'], ['conflict'], ['conflict'], ['conflict']]);
    // What a created report answered is what a retry replays, with the same receipt.
    const again = await service.submit(context, { ...disagreeing[0]! }, election);
    expect(again).toEqual({ status: 'replayed', report: reports[0], receipt: answers[0].receipt });
  });

  it('through the batch route: the same id twice in one batch is created once and replayed once', async () => {
    const report = opening();
    const response = await as(
      app,
      observer,
    )({
      method: 'POST',
      url: '/v1/reports/batch',
      payload: { reports: [report, report, { ...report, notes: 'other' }] },
    });
    expect(response.json().results.map((item: { status: string }) => item.status)).toEqual([
      'created',
      'replayed',
      'conflict',
    ]);
    expect(await counts(report.id)).toEqual({ reports: 1, revisions: 1, accepted: 1 });
  });
});
