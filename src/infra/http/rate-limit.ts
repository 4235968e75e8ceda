// Rate limits: per bearer token for authenticated calls, per client IP for the rest, answered with
// 429 RATE_LIMITED and Retry-After. Counters live in each process (several processes each allow the limit).
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
      return token ? `token:${hashToken(token).slice(0, 32)}` : `ip:${request.ip}`;
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
