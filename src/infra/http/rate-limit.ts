// Rate limits: per bearer token for tokens that have authenticated, and for well-formed tokens not seen yet
// (a phone's first request has its own bucket, whatever junk its carrier NAT's IP sends); per client IP for
// everything else: no token, a malformed one, one that failed before, or a new one from an IP that has
// failed RATE_LIMIT_PER_IP lookups this window (so guessing stays bounded per IP). Answered with
// 429 RATE_LIMITED and Retry-After. Counters live in each process.
import type { RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { hashToken, isWellFormedToken } from '../auth/tokens.js';
import { AppError } from '../errors.js';

const UNLIMITED = 1_000_000_000;

function bearer(request: FastifyRequest): string | undefined {
  const match = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

export function rateLimitOptions(config: Config): RateLimitPluginOptions {
  return {
    global: true,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    keyGenerator: (request) => {
      const token = bearer(request);
      if (!token || !isWellFormedToken(token)) return `ip:${request.ip}`;
      const hash = hashToken(token);
      const own = request.server.isKnownToken(hash) || request.server.mayProbeToken(hash, request.ip);
      return own ? `token:${hash.slice(0, 32)}` : `ip:${request.ip}`;
    },
    max: (_request, key) =>
      (key.startsWith('token:') ? config.RATE_LIMIT_PER_TOKEN : config.RATE_LIMIT_PER_IP) || UNLIMITED,
    // Health and readiness probes are never limited.
    allowList: (request) => request.routeOptions.config?.public === true && !request.url.startsWith('/v1/'),
    errorResponseBuilder: (_request, context) =>
      new AppError(
        'RATE_LIMITED',
        `More than ${context.max} requests in ${context.after}; retry after ${Math.ceil(context.ttl / 1000)} s`,
        {
          headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
        },
      ),
  };
}
