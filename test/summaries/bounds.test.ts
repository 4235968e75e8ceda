// GET /v1/summaries answers bounded bodies: centres only under a parent, recounts below the state level only under a parent.
import { beforeAll, describe, expect, it } from 'vitest';
import { as } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { seedRegistry } from '../helpers/factories.js';

const { app, admin } = await setupTestApp({ env: { PUBLIC_SUMMARIES: 'true' } });
const asAdmin = as(app, admin);

beforeAll(async () => {
  await seedRegistry(app, admin);
});

describe('GET /v1/summaries › bounded answers', () => {
  it.each([
    ['level=centre', 'an admin'],
    ['level=centre&since=2024-07-28T00:00:00Z', 'an admin'],
    ['level=parish&since=2024-07-28T00:00:00Z', 'an admin'],
    ['level=municipality&until=2030-01-01T00:00:00Z', 'an admin'],
    ['level=centre', 'anyone (PUBLIC_SUMMARIES)'],
  ])('400 VALIDATION_FAILED naming parent for %s, as %s', async (query, who) => {
    const response =
      who === 'an admin' ? await asAdmin(`/v1/summaries?${query}`) : await app.inject(`/v1/summaries?${query}`);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ in: 'querystring', path: 'parent' }],
    });
  });

  it.each([
    'level=centre&parent=01',
    'level=centre&parent=0101&since=2024-07-28T00:00:00Z',
    'level=parish&parent=01&since=2024-07-28T00:00:00Z',
    'level=state&since=2024-07-28T00:00:00Z',
    'level=parish',
    'level=municipality',
  ])('200 for %s', async (query) => {
    const response = await asAdmin(`/v1/summaries?${query}`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().items.length).toBeGreaterThan(0);
  });
});
