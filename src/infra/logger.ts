// pino options shared by the server and the CLIs: JSON logs (readable ones in development on a terminal), secrets
// redacted, request ids from x-request-id.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Logger, type LoggerOptions, pino } from 'pino';

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

/**
 * The server's logger. JSON lines by default; with NODE_ENV=development and a terminal on stdout, pino-pretty's
 * readable lines instead (loaded only then, so production never loads it).
 */
export async function createLogger(
  level: string,
  nodeEnv: string,
  stdout: { isTTY?: boolean } = process.stdout,
): Promise<Logger> {
  if (nodeEnv !== 'development' || !stdout.isTTY) return pino(loggerOptions(level));
  const { default: pretty } = await import('pino-pretty');
  // sync: lines are written before process.exit (a failed start's last words are not lost).
  const ignore = 'pid,hostname,service';
  const stream = pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore });
  return pino(loggerOptions(level), stream);
}

const safeRequestId = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Accepts a client's x-request-id when it is short and printable; otherwise mints a UUID. */
export function requestIdFor(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  const value = Array.isArray(given) ? given[0] : given;
  return value && safeRequestId.test(value) ? value : randomUUID();
}
