// The one place that turns database driver errors into problems of the catalogue. Errors arrive raw from
// pg (migrator, tests), or wrapped by Prisma (`cause`, `meta.driverAdapterError`) with a `kind` from adapter-pg.
import { AppError, type ProblemCode } from '../errors.js';

const unavailableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', // admin_shutdown, crash_shutdown, cannot_connect_now
  '53300', // too_many_connections
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
  'P1001', 'P1002', 'P1017', 'P2024', // Prisma: unreachable, timed out, closed, pool timeout
]);
const unavailableKinds = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TlsConnectionError']);
const unavailableMessages = /timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout|Cannot use a pool after calling end/i;

/** The error and everything it wraps, breadth-first and bounded. */
function unwrap(error: unknown): Record<string, unknown>[] {
  const seen: Record<string, unknown>[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.length < 12) {
    const item = queue.shift();
    if (!item || typeof item !== 'object' || seen.includes(item as Record<string, unknown>)) continue;
    const record = item as Record<string, unknown>;
    seen.push(record);
    queue.push(record.cause, (record.meta as Record<string, unknown> | undefined)?.driverAdapterError);
  }
  return seen;
}

/** True when the error means PostgreSQL could not be reached or did not answer in time. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return unwrap(error).some(
    (item) =>
      (typeof item.code === 'string' && unavailableCodes.has(item.code)) ||
      (typeof item.kind === 'string' && unavailableKinds.has(item.kind)) ||
      (typeof item.message === 'string' && unavailableMessages.test(item.message)),
  );
}

/** The PostgreSQL SQLSTATE of an error, through Prisma's and the adapter's wrappers. */
export function sqlState(error: unknown): string | undefined {
  for (const item of unwrap(error)) {
    if (typeof item.code === 'string' && /^[0-9A-Z]{5}$/.test(item.code)) return item.code;
  }
  return undefined;
}

/** Unique constraints whose violation is the client's conflict, by a column or constraint name they mention. */
const uniqueConflicts: [RegExp, ProblemCode, string][] = [
  // Neutral: it must not tell a coordinator that a user outside their scope exists (the users service names the holder to admins).
  [/external_id|externalId/, 'USER_EXTERNAL_ID_TAKEN', 'This externalId cannot be used; choose another'],
];

function isUniqueViolation(item: Record<string, unknown>): boolean {
  return item.code === '23505' || item.code === 'P2002' || item.kind === 'UniqueConstraintViolation';
}

/** Maps a database error to an AppError when it has a meaning for the client; else undefined. */
export function translateDatabaseError(error: unknown): AppError | undefined {
  const retry = { headers: { 'retry-after': '5' } };
  if (isDatabaseUnavailable(error)) return new AppError('DATABASE_UNAVAILABLE', 'The database cannot be reached; retry later.', retry);
  const items = unwrap(error);
  if (items.some(isUniqueViolation)) {
    const text = JSON.stringify(items.map((item) => ({ message: item.message, meta: item.meta, constraint: item.constraint, cause: item.cause })));
    const conflict = uniqueConflicts.find(([pattern]) => pattern.test(text));
    if (conflict) return new AppError(conflict[1], conflict[2]);
  }
  switch (sqlState(error)) {
    case '57014': // query_canceled: statement_timeout
      return new AppError('DATABASE_UNAVAILABLE', 'The database did not answer in time; retry later.', retry);
    default:
      return undefined;
  }
}
