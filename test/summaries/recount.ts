// The oracle for summaries: every level's live tallies (kept by triggers) must equal a recount from the
// reports (the same route with a window that holds every report).
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { nationalSchema, summaryListSchema } from '../../src/features/summaries/summaries.schemas.js';
import { as, type TestActor } from '../helpers/actors.js';

const EVERYTHING = 'since=2000-01-01T00:00:00Z';
const strip = (body: Record<string, unknown>) => {
  const { since: _since, until: _until, ...rest } = body;
  return rest;
};

/** Compares live and recounted summaries at every level (and the national one); returns the national one. */
export async function expectTalliesMatchRecount(
  app: FastifyInstance,
  admin: TestActor,
): Promise<Record<string, unknown>> {
  const get = async (url: string) => {
    const response = await as(app, admin)(url);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as Record<string, unknown>;
  };
  const live = nationalSchema.parse(await get('/v1/summaries/national')) as Record<string, unknown>;
  expect(strip(live)).toEqual(strip(await get(`/v1/summaries/national?${EVERYTHING}`)));
  const states = summaryListSchema.parse(await get('/v1/summaries?level=state')).items;
  expect(states, 'state').toEqual((await get(`/v1/summaries?level=state&${EVERYTHING}`)).items);
  // Below the state level a recount needs a parent (and centres always do): compare region by region, and the
  // union of the parents' rows with the whole level's live rows.
  let parents = states.map((row) => row.code);
  for (const level of ['municipality', 'parish', 'centre']) {
    const rows = [];
    for (const parent of parents) {
      const under = summaryListSchema.parse(await get(`/v1/summaries?level=${level}&parent=${parent}`)).items;
      expect(under, `${level} under ${parent}`).toEqual(
        (await get(`/v1/summaries?level=${level}&parent=${parent}&${EVERYTHING}`)).items,
      );
      rows.push(...under);
    }
    if (level !== 'centre') {
      const whole = summaryListSchema.parse(await get(`/v1/summaries?level=${level}`)).items;
      expect(
        [...rows].sort((a, b) => a.code.localeCompare(b.code)),
        level,
      ).toEqual([...whole].sort((a, b) => a.code.localeCompare(b.code)));
    }
    parents = rows.map((row) => row.code);
  }
  return live;
}
