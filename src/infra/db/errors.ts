// The one place that turns database driver errors into problems of the catalogue. Errors arrive raw from
// pg (migrator, tests), or wrapped by Prisma (`cause`, `meta.driverAdapterError`) with a `kind` from adapter-pg.
import { AppError, type ProblemCode } from '../errors.js';

// Every way the database "goes away" (checked against pg, pg-pool and @prisma/adapter-pg's sources).
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03', // admin_shutdown, crash_shutdown, cannot_connect_now
  '53000',
  '53100',
  '53200',
  '53300',
  '53400', // insufficient resources (disk full, out of memory, too many connections)
  '58000',
  '58030', // system_error, io_error
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  '08P01', // connection exceptions
  'P1001',
  'P1002',
  'P1008',
  'P1017',
  'P2024', // Prisma: unreachable, timed out, operation timed out, closed, pool timeout
]);
const unavailableKinds = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
]);
// pg: a query on a client whose socket failed or ended, the socket or read timing out; pg-pool: waiting for a
// connection, a pool already ended; the stream ending under a query.
const unavailableMessages = new RegExp(
  [
    'timeout exceeded when trying to connect',
    'Connection terminated',
    'connection timeout',
    'timeout expired',
    'Query read timeout',
    'Cannot use a pool after calling end',
    'Client has encountered a connection error and is not queryable',
    'Client was closed and is not queryable',
    'Connection ended unexpectedly',
    'server closed the connection unexpectedly',
  ].join('|'),
  'i',
);
// Prisma's transaction manager (P2028): no connection within `maxWait`, or the transaction outlived `timeout`.
const transactionTimeouts =
  /Unable to start a transaction in the given time|cannot be executed on an expired transaction/i;
// PostgreSQL's data exceptions that input can cause (a value it cannot store or convert): the client's fault.
const dataErrors = new Set([
  '22P05',
  '22008',
  '22003',
  '22021',
  '22007',
  '22P02',
  '22001',
  '22004',
  '2200N',
  '22025',
  '54000',
]);
const dataKinds = new Set(['LengthMismatch', 'ValueOutOfRange', 'InvalidInputValue']);

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
      (typeof item.originalCode === 'string' && unavailableCodes.has(item.originalCode)) ||
      (typeof item.kind === 'string' && unavailableKinds.has(item.kind)) ||
      (typeof item.message === 'string' && unavailableMessages.test(item.message)) ||
      (item.code === 'P2028' && typeof item.message === 'string' && transactionTimeouts.test(item.message)),
  );
}

/** A five-character SQLSTATE, not one of Prisma's own codes (P1000–P6999) that look alike. */
const isSqlState = (code: unknown): code is string =>
  typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^P[1-9]\d{3}$/.test(code);

/**
 * The PostgreSQL SQLSTATE of an error, through Prisma's and the adapter's wrappers (`code`, or `originalCode` once
 * mapped to a kind).
 */
export function sqlState(error: unknown): string | undefined {
  for (const item of unwrap(error)) {
    if (isSqlState(item.code)) return item.code;
    if (isSqlState(item.originalCode)) return item.originalCode;
  }
  return undefined;
}

/** SQLSTATEs of a transaction PostgreSQL rolled back because of concurrent ones: deadlock_detected, serialization_failure. */
const concurrencyAborts = new Set(['40P01', '40001']);

/** True when PostgreSQL rolled the work back because it met concurrent writes: it wrote nothing, and may run again. */
export function isAbortedByConcurrency(error: unknown): boolean {
  const state = sqlState(error);
  return (
    (state !== undefined && concurrencyAborts.has(state)) ||
    unwrap(error).some((item) => item.kind === 'TransactionWriteConflict')
  );
}

/** Unique constraints whose violation is the client's conflict, by a column or constraint name they mention. */
const uniqueConflicts: [RegExp, ProblemCode, string][] = [
  // Neutral: it must not tell a coordinator that a user outside their scope exists (the users service names the
  // holder to admins).
  [/external_id|externalId/, 'USER_EXTERNAL_ID_TAKEN', 'This externalId cannot be used; choose another'],
];

function isUniqueViolation(item: Record<string, unknown>): boolean {
  return item.code === '23505' || item.code === 'P2002' || item.kind === 'UniqueConstraintViolation';
}

/** Maps a database error to an AppError when it has a meaning for the client; else undefined. */
export function translateDatabaseError(error: unknown): AppError | undefined {
  const retry = { headers: { 'retry-after': '5' } };
  if (isDatabaseUnavailable(error))
    return new AppError('DATABASE_UNAVAILABLE', 'The database cannot be reached; retry later.', retry);
  const items = unwrap(error);
  if (items.some(isUniqueViolation)) {
    const text = JSON.stringify(
      items.map((item) => ({ message: item.message, meta: item.meta, constraint: item.constraint, cause: item.cause })),
    );
    const conflict = uniqueConflicts.find(([pattern]) => pattern.test(text));
    if (conflict) return new AppError(conflict[1], conflict[2]);
  }
  const state = sqlState(error);
  if (isAbortedByConcurrency(error)) {
    return new AppError(
      'DATABASE_CONFLICT',
      'The write met concurrent writes and was rolled back, again when retried; nothing was stored. Retry later.',
      retry,
    );
  }
  if (state === '57014') {
    // query_canceled: statement_timeout
    return new AppError('DATABASE_UNAVAILABLE', 'The database did not answer in time; retry later.', retry);
  }
  // Whatever input slipped past the schemas and PostgreSQL cannot store: the request's fault, said without internals.
  if (
    (state && dataErrors.has(state)) ||
    items.some((item) => typeof item.kind === 'string' && dataKinds.has(item.kind))
  ) {
    return new AppError(
      'VALIDATION_FAILED',
      'A value in the request cannot be stored (out of range, too long, or not valid text).',
      {
        errors: [{ message: 'a value cannot be stored by the database' }],
      },
    );
  }
  return undefined;
}
