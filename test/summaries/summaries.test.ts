import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { nationalSchema, summaryListSchema } from '../../src/features/summaries/summaries.schemas.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp, testConfig } from '../helpers/app.js';
import { seedRegistry, setElection } from '../helpers/factories.js';
import { expectTalliesMatchRecount } from './recount.js';

const { app, db, admin } = await setupTestApp();
const asAdmin = as(app, admin);
let observer: TestActor;
let reviewer: TestActor;
let stateCoordinator: TestActor;
let analyst: TestActor;

const election = {
  name: 'Presidential 2024',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  openingTime: '06:00',
  candidates: [
    { code: 'EG', name: 'Edmundo González' },
    { code: 'NM', name: 'Nicolás Maduro' },
    { code: 'LM', name: 'Luis Martínez' },
  ],
};
const post = async (payload: Record<string, unknown>, actor: TestActor = observer) => {
  const response = await as(app, actor)({ method: 'POST', url: '/v1/reports', payload });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string; flags: string[] };
};
const results = (
  centreCode: string,
  table: number,
  votes: Record<string, number>,
  extra: Record<string, unknown> = {},
) => {
  const validVotes = Object.values(votes).reduce((sum, count) => sum + count, 0);
  return post({
    id: randomUUID(),
    kind: 'results',
    centreCode,
    table,
    observedAt: '2024-07-28T22:15:00-04:00',
    answers: { registeredVoters: 400, validVotes, nullVotes: 5, votes, citizenAudit: true, ...extra },
  });
};
const opening = (centreCode: string, openedAt: string) =>
  post({
    id: randomUUID(),
    kind: 'opening',
    centreCode,
    observedAt: '2024-07-28T06:30:00-04:00',
    answers: { openedAt, tableStaffComplete: true, zeroReportPrinted: true, witnessesPresent: ['EG', 'NM'] },
  });
const incident = (centreCode: string, category: string, severity: string, ongoing: boolean) =>
  post({
    id: randomUUID(),
    kind: 'incident',
    centreCode,
    observedAt: '2024-07-28T09:00:00-04:00',
    answers: { category, severity, description: 'seen', ongoing },
  });
const review = async (id: string, state: string) => {
  expect(
    (await as(app, reviewer)({ method: 'POST', url: `/v1/reports/${id}/review`, payload: { state } })).statusCode,
  ).toBe(200);
};
// The summary routes skip zod's check on the way out (for speed): every answer read here is checked instead.
const national = async () => nationalSchema.parse((await asAdmin('/v1/summaries/national')).json());
const summaries = async (query: string, actor: TestActor = admin) => {
  const response = await as(app, actor)(`/v1/summaries?${query}`);
  if (response.statusCode === 200) summaryListSchema.parse(response.json());
  return response;
};

beforeAll(async () => {
  await seedRegistry(app, admin);
  await setElection(app, admin, election);
  observer = await createActor(app, 'coordinator');
  reviewer = await createActor(app, 'coordinator');
  stateCoordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
  analyst = await createActor(app, 'analyst');
});

describe('before any report', () => {
  it('shows the registry and nothing else', async () => {
    const body = await national();
    expect(body).toMatchObject({
      code: 'national',
      level: 'national',
      coverage: { centres: 5, tables: 8, centresReporting: 0, tablesCounted: 0, centresReportingShare: 0 },
      reports: { total: 0 },
      results: { tablesCounted: 0, votes: { EG: 0, NM: 0, LM: 0 }, turnout: null, shares: {} },
      opening: { openingTime: '06:00', centres: 0, onTimeShare: null, medianOpenedAt: null },
    });
    const [registry] = await db.query<{ voters: string }>(
      'SELECT sum(registered_voters)::text AS voters FROM polling_tables',
    );
    expect(body.coverage.registeredVoters).toBe(Number(registry!.voters));
  });
});

describe('the live summaries', () => {
  it('count reports, incidents, openings and results by region', async () => {
    await opening('010101001', '06:00');
    await opening('010101001', '05:55'); // a second table: the centre opened at its earliest
    await opening('010102001', '07:10');
    await opening('130101001', '06:30');
    await incident('010101001', 'violence', 'high', true);
    await incident('130201001', 'vote_buying', 'low', false);
    await results('010101001', 1, { EG: 200, NM: 100, LM: 10 });
    await results('010101001', 2, { EG: 150, NM: 120, LM: 0 });
    await results('130101001', 1, { EG: 90, NM: 210, LM: 5 });

    const body = await national();
    expect(body.reports).toEqual({
      total: 9,
      byKind: { arrival: 0, opening: 4, voting: 0, closing: 0, results: 3, incident: 2 },
    });
    expect(body.incidents).toMatchObject({
      total: 2,
      open: 1,
      bySeverity: { low: 1, medium: 0, high: 1, critical: 0 },
    });
    expect(body.incidents.byCategory).toMatchObject({ violence: 1, vote_buying: 1, intimidation: 0 });
    expect(body.coverage).toMatchObject({
      centresReporting: 4,
      centresOpened: 3,
      tablesCounted: 3,
      centresOpenedShare: 3 / 5,
      tablesCountedShare: 3 / 8,
    });
    // Centres opened at 05:55, 07:10 and 06:30: one on time, the median the middle one.
    expect(body.opening).toEqual({
      openingTime: '06:00',
      centres: 3,
      onTime: 1,
      onTimeShare: 1 / 3,
      medianOpenedAt: '06:30',
    });
    expect(body.results).toMatchObject({
      tablesCounted: 3,
      registeredVoters: 1200,
      validVotes: 885,
      nullVotes: 15,
      blankVotes: 0,
      votesCast: 900,
      turnout: 0.75,
      votes: { EG: 440, NM: 430, LM: 15 },
    });
    expect(body.results.shares.EG).toBeCloseTo(440 / 885, 10);

    const states = (await summaries('level=state')).json();
    expect(states.items.map((row: { code: string }) => row.code)).toEqual(['01', '13']);
    expect(states.items[0]).toMatchObject({
      name: 'DTTO. CAPITAL',
      results: { votes: { EG: 350, NM: 220, LM: 10 } },
      opening: { medianOpenedAt: '05:55' },
    });
    const centres = (await summaries('level=centre&parent=0101')).json();
    expect(centres.parent).toEqual({ code: '0101', name: 'MP. LIBERTADOR', level: 'municipality' });
    expect(centres.items.map((row: { code: string }) => row.code)).toEqual(['010101001', '010102001', '010102002']);
    expect(centres.items[2]).toMatchObject({
      coverage: { centres: 1, tables: 1, centresReporting: 0 },
      reports: { total: 0 },
    });
    await expectTalliesMatchRecount(app, admin);
  });

  it('count each table once, by the documented rule, through conflicts, reviews and revisions', async () => {
    const before = (await national()).results;
    // A second, different tally for table 130101001#1: both conflict, the table is no longer counted.
    const disagreeing = await results('130101001', 1, { EG: 91, NM: 210, LM: 5 });
    expect(disagreeing.flags).toContain('conflict');
    let now = await national();
    expect(now.results.tablesCounted).toBe(before.tablesCounted - 1);
    expect(now.results.votes.EG).toBe(before.votes.EG! - 90);
    expect(now.flags.conflicting).toBe(2);
    // Verifying the new one counts it, conflict or not.
    await review(disagreeing.id, 'verified');
    now = await national();
    expect(now.results.votes.EG).toBe(before.votes.EG! + 1);
    expect(now.results.tablesCounted).toBe(before.tablesCounted);
    await expectTalliesMatchRecount(app, admin);
    // Rejecting it: the other agrees with nobody now, so it counts again.
    await review(disagreeing.id, 'rejected');
    now = await national();
    expect(now.results.votes.EG).toBe(before.votes.EG);
    expect(now.flags).toMatchObject({ conflicting: 0, rejected: 1 });
    expect(now.reports.byKind.results).toBe(3);
    await expectTalliesMatchRecount(app, admin);
  });

  it('follow a revision of the counted report and of an opening time', async () => {
    const [counted] = await db.query<{ id: string }>(
      "SELECT report_id AS id FROM table_results WHERE centre_code = '010101001' AND table_number = 1",
    );
    const revised = await as(
      app,
      observer,
    )({
      method: 'POST',
      url: `/v1/reports/${counted!.id}/revisions`,
      payload: {
        answers: {
          registeredVoters: 400,
          validVotes: 320,
          nullVotes: 5,
          votes: { EG: 210, NM: 100, LM: 10 },
          citizenAudit: true,
        },
        reason: 'misread',
      },
    });
    expect(revised.statusCode, revised.body).toBe(201);
    expect((await national()).results.votes.EG).toBe(450);
    const [early] = await db.query<{ id: string }>(
      "SELECT id FROM reports WHERE kind = 'opening' AND answers->>'openedAt' = '05:55'",
    );
    await as(
      app,
      observer,
    )({
      method: 'POST',
      url: `/v1/reports/${early!.id}/revisions`,
      payload: {
        answers: { openedAt: '08:00', tableStaffComplete: true, zeroReportPrinted: true, witnessesPresent: [] },
        reason: 'typo',
      },
    });
    // 010101001 now opened at 06:00 (its other table): on time still.
    expect((await summaries('level=centre&parent=010101')).json().items[0].opening).toMatchObject({
      centres: 1,
      onTime: 1,
      medianOpenedAt: '06:00',
    });
    await expectTalliesMatchRecount(app, admin);
  });

  it('recount a time window from the reports', async () => {
    const [first] = await db.query<{ at: Date }>('SELECT min(received_at) AS at FROM reports');
    const all = (await asAdmin(`/v1/summaries/national?since=${first!.at.toISOString()}`)).json();
    expect(all).toMatchObject({ since: first!.at.toISOString(), until: null });
    const { since: _since, until: _until, ...live } = await national();
    const { since: _s, until: _u, ...windowed } = all;
    expect(windowed).toEqual(live);
    const none = (await asAdmin(`/v1/summaries/national?until=${first!.at.toISOString()}`)).json();
    expect(none.reports.total).toBe(0);
    expect(none.coverage.centres).toBe(5);
  });
});

describe('ETag', () => {
  it('is strong, stable while nothing changes, and answers If-None-Match with 304', async () => {
    const first = await asAdmin('/v1/summaries?level=state');
    const tag = first.headers.etag as string;
    expect(tag).toMatch(/^"[^"]+"$/);
    const again = await asAdmin('/v1/summaries?level=state');
    expect(again.headers.etag).toBe(tag);
    for (const header of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
      const cached = await asAdmin({ url: '/v1/summaries?level=state', headers: { 'if-none-match': header } });
      expect(cached.statusCode, header).toBe(304);
      expect(cached.body).toBe('');
    }
    expect(
      (await asAdmin({ url: '/v1/summaries?level=state', headers: { 'if-none-match': '"other"' } })).statusCode,
    ).toBe(200);
    await incident('130201001', 'other', 'medium', false);
    const changed = await asAdmin({ url: '/v1/summaries?level=state', headers: { 'if-none-match': tag } });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(tag);
  });
});

describe('scope', () => {
  it('gives a coordinator its region only', async () => {
    const own = (await summaries('level=state', stateCoordinator)).json();
    expect(own.items.map((row: { code: string }) => row.code)).toEqual(['01']);
    expect(own.parent).toMatchObject({ code: '01', level: 'state' });
    expect((await summaries('level=parish&parent=0101', stateCoordinator)).json().items).toHaveLength(2);
    expect((await summaries('level=parish&parent=1301', stateCoordinator)).json().code).toBe('NOT_FOUND');
    expect((await summaries('level=parish&parent=XX99', stateCoordinator)).json().code).toBe('NOT_FOUND');
    expect((await as(app, stateCoordinator)('/v1/summaries/national')).json().code).toBe('FORBIDDEN');
    expect((await as(app, analyst)('/v1/summaries/national')).statusCode).toBe(200);
  });

  it('is closed to observers and to callers without a token', async () => {
    const fieldObserver = await createActor(app, 'observer');
    expect((await as(app, fieldObserver)('/v1/summaries/national')).statusCode).toBe(403);
    expect((await app.inject('/v1/summaries/national')).statusCode).toBe(401);
  });

  it('rejects unknown parameters and levels', async () => {
    for (const query of [
      'level=country',
      'level=state&foo=1',
      'level=state&since=yesterday',
      'level=state&parent=%27%3B--',
    ]) {
      const response = await summaries(query);
      expect(response.statusCode, query).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    expect((await summaries('level=state&parent=010101001')).json().code).toBe('NOT_FOUND');
  });
});

describe('timeline and missing', () => {
  it('counts reports per bucket', async () => {
    const body = (await asAdmin('/v1/summaries/timeline?bucket=15m')).json();
    const [counts] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM reports');
    expect(body.items.reduce((sum: number, item: { reports: number }) => sum + item.reports, 0)).toBe(counts!.n);
    for (const item of body.items) expect(Date.parse(item.end) - Date.parse(item.start)).toBe(15 * 60_000);
    const openings = (await asAdmin('/v1/summaries/timeline?kind=opening&region=13')).json();
    expect(openings.items.reduce((sum: number, item: { reports: number }) => sum + item.reports, 0)).toBe(1);
  });

  it('lists centres without a kind of report, with their observers, page by page', async () => {
    const fieldObserver = await createActor(app, 'observer', { name: 'Ana' });
    await asAdmin({
      method: 'PUT',
      url: `/v1/users/${fieldObserver.id}/assignments`,
      payload: { centres: ['010102002'] },
    });
    const first = (await asAdmin('/v1/summaries/missing?kind=opening&limit=1')).json();
    expect(first.items.map((centre: { code: string }) => centre.code)).toEqual(['010102002']);
    expect(first.items[0].observers).toEqual([{ id: fieldObserver.id, name: 'Ana', phone: null, email: null }]);
    const second = (await asAdmin(`/v1/summaries/missing?kind=opening&limit=1&cursor=${first.nextCursor}`)).json();
    expect(second.items.map((centre: { code: string }) => centre.code)).toEqual(['130201001']);
    expect(second.nextCursor).toBeNull();
    expect((await asAdmin('/v1/summaries/missing?kind=opening&observed=true')).json().items).toHaveLength(1);
    expect(
      (await asAdmin('/v1/summaries/missing?kind=opening&region=13')).json().items.map((c: { code: string }) => c.code),
    ).toEqual(['130201001']);
  });
});

describe('PUBLIC_SUMMARIES=true', () => {
  it('opens summaries without a token, and nothing else', async () => {
    const config = testConfig({ DATABASE_URL: db.url, PUBLIC_SUMMARIES: 'true' });
    const open = { app: await buildApp({ config, database: createDatabase(databaseOptions(config, db.url)) }) };
    try {
      const response = await open.app.inject('/v1/summaries/national');
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('public, no-cache');
      expect(response.json().reports.total).toBeGreaterThan(0);
      expect((await open.app.inject('/v1/summaries?level=state')).json().items).toHaveLength(2);
      expect((await open.app.inject('/v1/summaries/timeline')).statusCode).toBe(200);
      for (const url of ['/v1/summaries/missing?kind=opening', '/v1/reports', '/v1/users', '/v1/audit']) {
        expect((await open.app.inject(url)).statusCode, url).toBe(401);
      }
    } finally {
      await open.app.close();
    }
  });
});
