// The one place that turns database driver errors into problems of the catalogue.
import { AppError } from '../errors.js';

const unavailableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', // admin_shutdown, crash_shutdown, cannot_connect_now
  '53300', // too_many_connections
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
  'P1001', 'P1002', 'P1017', 'P2024', // Prisma: unreachable, timed out, closed, pool timeout
]);
const unavailableMessages = /timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout|Cannot use a pool after calling end/i;

function* causes(error: unknown): Generator<Record<string, unknown>> {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current && typeof current === 'object'; depth += 1) {
    yield current as Record<string, unknown>;
    const next = (current as { cause?: unknown }).cause;
    if (next === current) break;
    current = next;
  }
}

/** True when the error means PostgreSQL could not be reached or did not answer in time. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const item of causes(error)) {
    const code = item.code ?? item.originalCode ?? (item.kind === 'postgres' ? undefined : item.kind);
    if (typeof code === 'string' && unavailableCodes.has(code)) return true;
    if (typeof item.message === 'string' && unavailableMessages.test(item.message)) return true;
    if (item.name === 'DriverAdapterError' && typeof item.cause === 'object' && item.cause && (item.cause as { kind?: string }).kind === 'DatabaseNotReachable') return true;
  }
  return false;
}

/** The PostgreSQL SQLSTATE of an error, through Prisma's and the adapter's wrappers. */
export function sqlState(error: unknown): string | undefined {
  for (const item of causes(error)) {
    for (const key of ['code', 'originalCode']) {
      const value = item[key];
      if (typeof value === 'string' && /^[0-9A-Z]{5}$/.test(value)) return value;
    }
  }
  return undefined;
}

/** Maps a database error to an AppError when it has a meaning for the client; else undefined. */
export function translateDatabaseError(error: unknown): AppError | undefined {
  if (isDatabaseUnavailable(error)) return new AppError('DATABASE_UNAVAILABLE', 'The database cannot be reached; retry later.', { headers: { 'retry-after': '5' } });
  switch (sqlState(error)) {
    case '57014': // query_canceled (statement_timeout)
      return new AppError('DATABASE_UNAVAILABLE', 'The database did not answer in time; retry later.', { headers: { 'retry-after': '5' } });
    default:
      return undefined;
  }
}
