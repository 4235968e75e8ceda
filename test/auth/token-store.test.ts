// The auth plugin reads tokens only through the TokenStore it is given (the users repository in app.ts).
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/infra/auth/actor.js';
import { authPlugin, type TokenStore } from '../../src/infra/auth/auth.plugin.js';
import { hashToken } from '../../src/infra/auth/tokens.js';
import { problemsPlugin } from '../../src/infra/http/problems.js';

describe('auth plugin › TokenStore injected through its options', async () => {
  const secret = `tg_${'a'.repeat(43)}`;
  const actor: Actor = {
    userId: '00000000-0000-4000-8000-000000000001',
    name: 'Ana',
    role: 'analyst',
    scopeRegionCode: null,
    tokenId: '00000000-0000-4000-8000-000000000002',
  };
  const looked: string[] = [];
  const used: { id: string; at: string }[][] = [];
  const tokens: TokenStore = {
    actorByTokenHash: async (hash) => {
      looked.push(hash);
      return hash === hashToken(secret) ? { ...actor, expiresAt: null } : undefined;
    },
    recordTokenUse: async (uses) => {
      used.push(uses);
    },
  };
  // No database plugin at all: the plugin needs only the store.
  const app = Fastify();
  await app.register(problemsPlugin);
  await app.register(authPlugin, {
    tokens,
    lastUsedFlushMs: 60_000,
    cacheTtlMs: 0,
    probesPerIp: 0,
    probeWindowMs: 60_000,
  });
  app.get('/who', async (request) => ({ userId: request.actor?.userId }));
  await app.ready();
  afterAll(() => app.close());

  it('GET with a token the store knows › 200 as its actor, and the use is recorded through the store', async () => {
    const response = await app.inject({ url: '/who', headers: { authorization: `Bearer ${secret}` } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ userId: actor.userId });
    expect(looked).toEqual([hashToken(secret)]);
    await app.flushTokenUse();
    expect(used.flat().map((use) => use.id)).toEqual([actor.tokenId]);
  });

  it('GET with a token the store does not know › 401 AUTH_INVALID_TOKEN', async () => {
    const response = await app.inject({ url: '/who', headers: { authorization: `Bearer tg_${'b'.repeat(43)}` } });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'AUTH_INVALID_TOKEN' });
  });
});
