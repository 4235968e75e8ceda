// Authentication and role checks for every route, in one place. Routes are private unless their config
// says `public: true`; `roles` limits a route to some roles (403 otherwise). Scope checks (which region,
// which user) belong to src/infra/auth/policy.ts, called by the services.
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';
import type { Actor, Role } from './actor.js';
import { TokenCache } from './token-cache.js';
import { hashToken, isWellFormedToken } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** No token needed (health, readiness, API docs). */
    public?: boolean;
    /** Only these roles may call the route. */
    roles?: readonly Role[];
  }
}

const challenge = 'Bearer realm="testigo"';

/** Where tokens are kept (the users feature's repository): this plugin reads and touches them through these. */
export interface TokenStore {
  /** The actor of a live token with this hash (its user active), and when the token expires. */
  actorByTokenHash(hash: string): Promise<(Actor & { expiresAt: Date | null }) | undefined>;
  /** Records when tokens were last used (one statement for many). */
  recordTokenUse(uses: { id: string; at: string }[]): Promise<void>;
}

/** Tests only: runs between a token lookup's database read and its caching (to widen that window). */
export type AfterTokenRead = (read: { userId: string; changed: () => boolean }) => Promise<void>;

/** Remembers when each token was last used and writes it in one statement now and then, never per request. */
function lastUsedTracker(app: FastifyInstance, tokens: TokenStore, flushMs: number) {
  let pending = new Map<string, Date>();
  const flush = async () => {
    if (pending.size === 0) return;
    const batch = [...pending].map(([id, at]) => ({ id, at: at.toISOString() }));
    pending = new Map();
    try {
      await tokens.recordTokenUse(batch);
    } catch (error) {
      app.log.warn({ err: error }, 'could not record token last-used times');
    }
  };
  const timer = setInterval(() => void flush(), flushMs);
  timer.unref();
  app.addHook('preClose', async () => {
    clearInterval(timer);
    await flush();
  });
  return { touch: (tokenId: string) => pending.set(tokenId, new Date()), flush };
}

export const authPlugin = fp(
  async (
    app: FastifyInstance,
    options: {
      /** The token queries (the users feature's). */
      tokens: TokenStore;
      lastUsedFlushMs: number;
      cacheTtlMs: number;
      /** Failed lookups of well-formed tokens an IP may make per window before its new tokens share its IP bucket (0: no cap). */
      probesPerIp: number;
      probeWindowMs: number;
      afterTokenRead?: AfterTokenRead;
    },
  ) => {
    const tracker = lastUsedTracker(app, options.tokens, options.lastUsedFlushMs);
    const cache = new TokenCache({ listener: app.listener, ttlMs: options.cacheTtlMs });
    app.decorate('forgetAccess', (userIds: string[]) => userIds.forEach((id) => cache.forgetUser(id)));

    // Hashes of tokens that authenticated in this process: those have a rate-limit bucket of their own.
    let known = new Set<string>();
    app.decorate('isKnownToken', (hash: string) => known.has(hash));
    // Well-formed tokens that failed here, and failed lookups per IP in the current window: a token not seen
    // yet gets a bucket of its own (a phone's first request is not locked out by junk from its NAT's IP),
    // unless it failed before or its IP has been guessing, then it shares the IP bucket like junk does.
    let rejected = new Set<string>();
    let probes = new Map<string, { count: number; until: number }>();
    const failedProbes = (ip: string) => {
      const entry = probes.get(ip);
      return entry && entry.until > Date.now() ? entry.count : 0;
    };
    app.decorate(
      'mayProbeToken',
      (hash: string, ip: string) =>
        !rejected.has(hash) && (options.probesPerIp === 0 || failedProbes(ip) < options.probesPerIp),
    );
    const recordFailure = (hash: string, ip: string) => {
      known.delete(hash);
      if (rejected.has(hash)) return; // counted once: a phone retrying its revoked token is not guessing
      if (rejected.size >= 200_000) rejected = new Set();
      rejected.add(hash);
      if (probes.size >= 100_000) probes = new Map();
      const count = failedProbes(ip);
      probes.set(ip, {
        count: count + 1,
        until: count === 0 ? Date.now() + options.probeWindowMs : probes.get(ip)!.until,
      });
    };

    async function lookup(secret: string, ip: string): Promise<Actor | undefined> {
      const hash = hashToken(secret);
      const cached = cache.get(hash);
      if (cached) return cached;
      const mark = cache.mark();
      const row = await options.tokens.actorByTokenHash(hash);
      if (!row) {
        if (isWellFormedToken(secret)) recordFailure(hash, ip);
        return undefined;
      }
      if (known.size >= 200_000) known = new Set();
      known.add(hash);
      const { expiresAt, ...actor } = row;
      await options.afterTokenRead?.({ userId: actor.userId, changed: () => cache.changedSince(actor.userId, mark) });
      cache.set(hash, actor, expiresAt, mark);
      return actor;
    }

    app.decorate('flushTokenUse', tracker.flush);
    app.decorateRequest('actor', null);

    const authenticate: onRequestAsyncHookHandler = async (request) => {
      const config = request.routeOptions.config;
      if (config?.public) return;
      const header = request.headers.authorization;
      if (!header)
        throw new AppError('AUTH_REQUIRED', 'This route needs a bearer token', {
          headers: { 'www-authenticate': challenge },
        });
      const match = /^Bearer +([\x21-\x7e]{1,512})$/i.exec(header);
      const actor = match ? await lookup(match[1]!, request.ip) : undefined;
      if (!actor) {
        throw new AppError('AUTH_INVALID_TOKEN', 'The token is unknown, expired or revoked', {
          headers: { 'www-authenticate': `${challenge}, error="invalid_token"` },
        });
      }
      request.actor = actor;
      tracker.touch(actor.tokenId);
      if (config?.roles && !config.roles.includes(actor.role)) {
        throw new AppError('FORBIDDEN', `This route is not open to the ${actor.role} role`);
      }
    };
    // A route-level hook, added after the rate limiter's: a limited client costs no token lookup.
    app.addHook('onRoute', (route) => {
      const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
      route.onRequest = [...existing, authenticate];
    });
  },
  { name: 'auth', fastify: '5.x' },
);

declare module 'fastify' {
  interface FastifyInstance {
    /** Writes pending token last-used times now (tests, shutdown). */
    flushTokenUse(): Promise<void>;
    /** Whether a token with this hash has authenticated in this process (it then has its own rate limit). */
    isKnownToken(hash: string): boolean;
    /** Whether a well-formed token not known here may try with a rate limit of its own (not failed before, its IP not guessing). */
    mayProbeToken(hash: string, ip: string): boolean;
    /** Drops this process's cached token lookups of these users (other processes learn it by NOTIFY). */
    forgetAccess(userIds: string[]): void;
  }
}
