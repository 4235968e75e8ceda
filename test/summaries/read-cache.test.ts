// The read path of summaries: the tallies' version (bumped by every kind of change, not by a retry), answers
// cached by it with ETags that give 304 while nothing changed and new numbers right after a write, the
// coalesced version lookups, and cached answers equal to a recount after concurrent writes.
import { describe, expect, it } from 'vitest';
import { versionClock } from '../../src/infra/cache/versioned.js';
import { as, createActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { createReport, reportPayload, seedRegistry, setElection } from '../helpers/factories.js';
import { expectTalliesMatchRecount } from './recount.js';

const { app, db, admin } = await setupTestApp();
const asAdmin = as(app, admin);
const version = async () =>
  Number((await db.query<{ v: string }>('SELECT testigo_tallies_version()::text AS v'))[0]!.v);

describe("the tallies' version", () => {
  it('is bumped by registry imports, the election, users, reports and testigo_tallies_bump(); not by a retry', async () => {
    let before = await version();
    await seedRegistry(app, admin);
    expect(await version()).toBeGreaterThan(before);

    before = await version();
    await setElection(app, admin);
    expect(await version()).toBeGreaterThan(before);

    before = await version();
    const observer = await createActor(app, 'coordinator');
    expect(await version()).toBeGreaterThan(before);

    const payload = reportPayload('arrival');
    before = await version();
    const first = await as(app, observer)({ method: 'POST', url: '/v1/reports', payload });
    expect(first.statusCode).toBe(201);
    const afterReport = await version();
    expect(afterReport).toBeGreaterThan(before);
    const retry = await as(app, observer)({ method: 'POST', url: '/v1/reports', payload });
    expect(retry.statusCode).toBe(200);
    expect(await version()).toBe(afterReport);

    before = await version();
    await db.query('SELECT testigo_tallies_bump()');
    expect(await version()).toBe(before + 1);

    // A form's versions are part of its analysis: creating, publishing and retiring one bump it too.
    const form = {
      key: 'cache_probe',
      title: { en: 'Probe' },
      unit: 'centre',
      questions: [{ key: 'ok', type: 'boolean', label: { en: 'OK?' } }],
    };
    for (const request of [
      { url: '/v1/forms', payload: form },
      { url: '/v1/forms/cache_probe/versions', payload: form },
      { url: '/v1/forms/cache_probe/versions/1/retire' },
    ]) {
      before = await version();
      const answer = await asAdmin({ method: 'POST', ...request });
      expect(answer.statusCode, answer.body).toBeLessThan(300);
      expect(await version()).toBeGreaterThan(before);
    }
  });
});

describe('cached answers', () => {
  it('answer 304 to a matching If-None-Match while nothing changed, and new numbers right after a report', async () => {
    const first = await asAdmin('/v1/summaries/national');
    expect(first.statusCode).toBe(200);
    const tag = first.headers.etag as string;
    expect(tag).toMatch(/^"\d+-[\w-]+"$/);
    const again = await asAdmin({ url: '/v1/summaries/national', headers: { 'if-none-match': tag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.etag).toBe(tag);

    await createReport(app, admin, 'incident');
    const after = await asAdmin({ url: '/v1/summaries/national', headers: { 'if-none-match': tag } });
    expect(after.statusCode).toBe(200);
    expect(after.headers.etag).not.toBe(tag);
    expect(after.json().incidents.total).toBe(first.json().incidents.total + 1);
  });

  it('cost no recount for a 304, and one computation and about one version lookup per round for 50 concurrent readers', async () => {
    const { cache } = app.services.tallies;
    const first = await asAdmin('/v1/summaries?level=state');
    const computed = cache.computed;
    const lookups = cache.clock.lookups;
    const conditional = await asAdmin({
      url: '/v1/summaries?level=state',
      headers: { 'if-none-match': first.headers.etag! },
    });
    expect(conditional.statusCode).toBe(304);
    expect(cache.computed).toBe(computed);
    expect(cache.clock.lookups).toBe(lookups + 1);

    await createReport(app, admin, 'voting');
    const before = { computed: cache.computed, lookups: cache.clock.lookups };
    const answers = await Promise.all(Array.from({ length: 50 }, () => asAdmin('/v1/summaries?level=state')));
    expect(new Set(answers.map((answer) => answer.body)).size).toBe(1);
    expect(cache.computed - before.computed).toBe(1);
    expect(cache.clock.lookups - before.lookups).toBeLessThanOrEqual(3);
  });

  it('serve the process analysis too: a 304 computes nothing, a report gives new numbers at once', async () => {
    const { cache } = app.services.tallies;
    const url = '/v1/analysis?kind=voting&level=state';
    const first = await asAdmin(url);
    expect(first.statusCode).toBe(200);
    const computed = cache.computed;
    const conditional = await asAdmin({ url, headers: { 'if-none-match': first.headers.etag! } });
    expect(conditional.statusCode).toBe(304);
    expect(cache.computed).toBe(computed);

    const reporting = (body: { rows: { code: string; units: { reporting: number } }[] }) =>
      body.rows.reduce((sum, row) => sum + row.units.reporting, 0);
    await createReport(app, admin, 'voting', {}, { centreCode: '130101001' });
    const after = await asAdmin({ url, headers: { 'if-none-match': first.headers.etag! } });
    expect(after.statusCode).toBe(200);
    expect(cache.computed).toBe(computed + 1);
    expect(reporting(after.json())).toBeGreaterThanOrEqual(reporting(first.json()));
    expect(after.json()).toEqual(await app.services.analysis.read('voting', 'state', null));
  });

  it('differ by query and by scope', async () => {
    const coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
    const mine = await as(app, coordinator)('/v1/summaries?level=state');
    const all = await asAdmin('/v1/summaries?level=state');
    expect(mine.json().items.map((row: { code: string }) => row.code)).toEqual(['01']);
    expect(all.json().items.length).toBeGreaterThan(1);
    expect(mine.headers.etag).not.toBe(all.headers.etag);
    // The admin's tag does not open the coordinator's answer, nor a different query's.
    expect(
      (
        await as(
          app,
          coordinator,
        )({ url: '/v1/summaries?level=state', headers: { 'if-none-match': all.headers.etag! } })
      ).statusCode,
    ).toBe(200);
    expect(
      (await asAdmin({ url: '/v1/summaries?level=municipality', headers: { 'if-none-match': all.headers.etag! } }))
        .statusCode,
    ).toBe(200);
    expect((await as(app, coordinator)('/v1/summaries/national')).statusCode).toBe(403);
  });

  it('follow a change of the election (candidates shown in summaries)', async () => {
    const before = (await asAdmin('/v1/summaries/national')).json();
    await setElection(app, admin, {
      candidates: [
        { code: 'EG', name: 'Edmundo González' },
        { code: 'ZZ', name: 'Someone New' },
      ],
    });
    const after = (await asAdmin('/v1/summaries/national')).json();
    expect(Object.keys(after.results.votes)).toContain('ZZ');
    expect(Object.keys(before.results.votes)).not.toContain('ZZ');
  });

  it('equal the recount after concurrent writes and reads', async () => {
    const writers = Array.from({ length: 24 }, (_, i) =>
      createReport(app, admin, i % 2 ? 'incident' : 'voting', {}, { centreCode: i % 3 ? '010101001' : '130101001' }),
    );
    const readers = Array.from({ length: 24 }, () => asAdmin('/v1/summaries?level=state'));
    await Promise.all([...writers, ...readers]);
    await expectTalliesMatchRecount(app, admin);
    // Re-read: exact right after, from the cache.
    const live = (await asAdmin('/v1/summaries/national')).json();
    const [count] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM reports WHERE review_state <> 'rejected'",
    );
    expect(live.reports.total).toBe(count!.n);
  });
});

describe('versionClock', () => {
  it('gives 50 concurrent readers one lookup, and never the result of a lookup that started before them', async () => {
    let calls = 0;
    let release: (() => void) | undefined;
    const clock = versionClock(async () => {
      calls += 1;
      const n = calls;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return n;
    });
    const first = clock.current();
    // Arrive while the first lookup is in flight: they must wait for the next one.
    const late = Array.from({ length: 50 }, () => clock.current());
    expect(calls).toBe(1);
    release!();
    expect(await first).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(2);
    release!();
    expect(new Set(await Promise.all(late))).toEqual(new Set([2]));
    expect(calls).toBe(2);
  });
});
