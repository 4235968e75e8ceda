import { describe, expect, it } from 'vitest';
import { as, createActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';

const { app, admin } = await setupTestApp({
  env: { RATE_LIMIT_PER_TOKEN: '5', RATE_LIMIT_PER_IP: '3', RATE_LIMIT_WINDOW_MS: '60000' },
});

describe('rate limits', () => {
  it('limits each token on its own once it has authenticated, with 429 RATE_LIMITED and Retry-After', async () => {
    const statuses = [];
    // A well-formed token not seen yet has its bucket from its first call.
    for (let i = 0; i < 7; i += 1) statuses.push((await as(app, admin)('/v1/me')).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const limited = await as(app, admin)('/v1/me');
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another token is not affected.
    const other = await createActor(app, 'analyst');
    expect((await as(app, other)('/v1/me')).statusCode).toBe(200);
  });

  it('limits calls without a token, or with made-up tokens, per client IP', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await app.inject({ url: '/v1/regions', remoteAddress: '203.0.113.9' })).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect((await app.inject({ url: '/v1/regions', remoteAddress: '203.0.113.10' })).statusCode).toBe(401);
    const guesses = [];
    for (let i = 0; i < 4; i += 1) {
      guesses.push(
        (
          await app.inject({
            url: '/v1/regions',
            remoteAddress: '203.0.113.12',
            headers: { authorization: `Bearer tg_guess${i}` },
          })
        ).statusCode,
      );
    }
    expect(guesses).toEqual([401, 401, 401, 429]);
  });

  it('never limits health and readiness probes', async () => {
    for (let i = 0; i < 10; i += 1)
      expect((await app.inject({ url: '/healthz', remoteAddress: '203.0.113.11' })).statusCode).toBe(200);
  });
});
