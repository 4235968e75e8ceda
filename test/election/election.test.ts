// The election is one truth: a candidate added by PUT /v1/election is accepted at once by a results report,
// sent to the same app or to another one sharing the database (another API process), whose cached election
// the change's NOTIFY empties.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';

const first = await setupTestApp();
const { app, admin } = first;
// "Another process": a second app of its own (own pools, own services and caches, own LISTEN connection).
const { app: other } = await setupTestApp({ databaseUrl: first.db.url });
const sample = readFileSync(new URL('../fixtures/registry-sample.csv', import.meta.url), 'utf8');
const candidates = [
  { code: 'EG', name: 'Edmundo González' },
  { code: 'NM', name: 'Nicolás Maduro' },
];
const election = (codes: string[] = []) => ({
  name: 'Presidential 2024',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  candidates: [...candidates, ...codes.map((code) => ({ code, name: `Candidate ${code}` }))],
});
let observer: TestActor;

const results = (votes: Record<string, number>) => ({
  id: randomUUID(),
  kind: 'results',
  centreCode: '010101001',
  table: 1,
  observedAt: '2024-07-28T22:00:00Z',
  answers: {
    registeredVoters: 760,
    validVotes: Object.values(votes).reduce((a, b) => a + b, 0),
    nullVotes: 3,
    votes,
    citizenAudit: false,
  },
});
const submit = (target: FastifyInstance, votes: Record<string, number>) =>
  as(target, observer)({ method: 'POST', url: '/v1/reports', payload: results(votes) });

async function until(condition: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  const asAdmin = as(app, admin);
  expect(
    (
      await asAdmin({
        method: 'POST',
        url: '/v1/registry/import',
        headers: { 'content-type': 'text/csv' },
        body: sample,
      })
    ).statusCode,
  ).toBe(200);
  expect((await asAdmin({ method: 'PUT', url: '/v1/election', payload: election() })).statusCode).toBe(200);
  observer = await createActor(app, 'observer');
  expect(
    (await asAdmin({ method: 'PUT', url: `/v1/users/${observer.id}/assignments`, payload: { centres: ['010101001'] } }))
      .statusCode,
  ).toBe(200);
  // Both apps listen, so both cache the election.
  await other.ready();
  await until(() => app.listener.listening && other.listener.listening);
  // Warm both caches with the election as it is.
  expect((await submit(app, { EG: 10, NM: 5 })).statusCode).toBe(201);
  expect((await submit(other, { EG: 10, NM: 5 })).statusCode).toBe(201);
});

describe('PUT /v1/election › a new candidate is accepted at once', () => {
  it('POST /v1/reports › 201 for a results report naming a candidate just added, on the same app', async () => {
    expect((await as(app, admin)({ method: 'PUT', url: '/v1/election', payload: election(['AA']) })).statusCode).toBe(
      200,
    );
    const response = await submit(app, { EG: 10, AA: 5 });
    expect(response.json()).toMatchObject({ answers: { votes: { AA: 5 } } });
    expect(response.statusCode).toBe(201);
  });

  it('POST /v1/reports › 201 for a results report naming a candidate just added, on another app (process)', async () => {
    expect(
      (await as(app, admin)({ method: 'PUT', url: '/v1/election', payload: election(['AA', 'BB']) })).statusCode,
    ).toBe(200);
    const response = await submit(other, { EG: 10, BB: 5 });
    expect(response.json()).toMatchObject({ answers: { votes: { BB: 5 } } });
    expect(response.statusCode).toBe(201);
  });

  it('POST /v1/reports/batch › created for an item naming a candidate just added, on another app', async () => {
    expect(
      (await as(app, admin)({ method: 'PUT', url: '/v1/election', payload: election(['AA', 'BB', 'CC']) })).statusCode,
    ).toBe(200);
    const response = await as(
      other,
      observer,
    )({ method: 'POST', url: '/v1/reports/batch', payload: { reports: [results({ EG: 1, CC: 2 })] } });
    expect(response.json()).toMatchObject({ created: 1, results: [{ status: 'created' }] });
  });

  it("the other app's cached election is emptied by the change's NOTIFY (no wait for an expiry)", async () => {
    expect((await other.services.election.current())?.candidates.map((c) => c.code)).toEqual([
      'EG',
      'NM',
      'AA',
      'BB',
      'CC',
    ]);
    expect(
      (await as(app, admin)({ method: 'PUT', url: '/v1/election', payload: election(['AA', 'BB', 'CC', 'DD']) }))
        .statusCode,
    ).toBe(200);
    const started = Date.now();
    await until(
      async () => (await other.services.election.current())?.candidates.some((c) => c.code === 'DD') ?? false,
    );
    // A cache that only expired would take its full lifetime; the notification arrives within moments.
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
