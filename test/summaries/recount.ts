// The oracle for summaries: every level's live tallies (kept by triggers) must equal a recount from the
// reports (the same route with a window that holds every report).
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { nationalSchema, summaryListSchema } from '../../src/features/summaries/summaries.schemas.js';
import { as, type TestActor } from '../helpers/actors.js';

const EVERYTHING = 'since=1970-01-01T00:00:00Z';
const strip = (body: Record<string, unknown>) => {
  const { since: _since, until: _until, ...rest } = body;
  return rest;
};

/** Compares live and recounted summaries at every level (and the national one); returns the national one. */
export async function expectTalliesMatchRecount(app: FastifyInstance, admin: TestActor): Promise<Record<string, unknown>> {
  const get = async (url: string) => {
    const response = await as(app, admin)(url);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as Record<string, unknown>;
  };
  const live = nationalSchema.parse(await get('/v1/summaries/national')) as Record<string, unknown>;
  expect(strip(live)).toEqual(strip(await get(`/v1/summaries/national?${EVERYTHING}`)));
  for (const level of ['state', 'municipality', 'parish', 'centre']) {
    const rows = summaryListSchema.parse(await get(`/v1/summaries?level=${level}`)).items;
    const recount = (await get(`/v1/summaries?level=${level}&${EVERYTHING}`)).items;
    expect(rows, level).toEqual(recount);
  }
  return live;
}
