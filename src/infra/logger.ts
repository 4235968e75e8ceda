// pino options shared by the server and the CLIs: JSON logs, secrets redacted, request ids from x-request-id.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { LoggerOptions } from 'pino';

export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.secret',
  '*.databaseUrl',
  'DATABASE_URL',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: 'testigo' },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
}

const safeRequestId = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Accepts a client's x-request-id when it is short and printable; otherwise mints a UUID. */
export function requestIdFor(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  const value = Array.isArray(given) ? given[0] : given;
  return value && safeRequestId.test(value) ? value : randomUUID();
}
