// Rate limits: per bearer token for tokens that have authenticated, per client IP for everything else
// (no token, or a token never seen valid: made-up tokens share their sender's IP bucket, so guessing is
// bounded), answered with 429 RATE_LIMITED and Retry-After. Counters live in each process.
import type { RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { hashToken } from '../auth/tokens.js';
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
      const hash = token ? hashToken(token) : undefined;
      return hash && request.server.isKnownToken(hash) ? `token:${hash.slice(0, 32)}` : `ip:${request.ip}`;
    },
    max: (_request, key) => (key.startsWith('token:') ? config.RATE_LIMIT_PER_TOKEN : config.RATE_LIMIT_PER_IP) || UNLIMITED,
    // Health and readiness probes are never limited.
    allowList: (request) => request.routeOptions.config?.public === true && !request.url.startsWith('/v1/'),
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `More than ${context.max} requests in ${context.after}; retry after ${Math.ceil(context.ttl / 1000)} s`, {
        headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
      }),
  };
}
