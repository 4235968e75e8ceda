// Hot statements as named prepared statements on the pg pool (the one Prisma's adapter also uses), so that
// each connection plans a statement once and rows come back without Prisma's per-row conversion. Measured:
// a national summary took ~7 ms to plan and ~0.7 ms to run, and Prisma's adapter plans on every call.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Prisma } from '../../generated/prisma/client.js';
import { AppError } from '../errors.js';

/** Runs a statement and returns its rows. */
export type Query = <T>(sql: Prisma.Sql) => Promise<T[]>;

/** `Prisma.sql` statements run on `db` as named prepared statements (the name is a hash of the text). */
export function preparedQuery(db: pg.Pool | pg.ClientBase): Query {
  return async <T>(sql: Prisma.Sql) => {
    const name = `testigo_${createHash('sha1').update(sql.text).digest('hex').slice(0, 20)}`;
    return (await db.query({ name, text: sql.text, values: sql.values as unknown[] })).rows as T[];
  };
}

/**
 * `run` inside one transaction on one connection of `pool`, its statements prepared as preparedQuery's: committed
 * when `run` resolves, rolled back when it throws (a connection that cannot even roll back is discarded). For hot
 * writes: the reports' insert, planned on every call through Prisma, spent about as much of PostgreSQL's time
 * planning as running (see createReportsRepository).
 */
export async function preparedTransaction<T>(pool: pg.Pool, run: (query: Query) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // pg-pool listens for errors of idle clients only: a connection lost while this one is held between two
  // queries (PostgreSQL stopped, killed) is emitted on the client, and unheard it would end the process.
  const lost = (error: Error) => {
    broken = error;
  };
  client.on('error', lost);
  try {
    await client.query('BEGIN');
    const result = await run(preparedQuery(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.removeListener('error', lost);
    client.release(broken);
  }
}

/**
 * preparedQuery on `pool`, refusing at once with 503 SERVICE_OVERLOADED (Retry-After) while `maxWaiting` queries
 * already wait for one of its connections: a burst of reads is shed in microseconds instead of queueing work
 * (and timing out as if the database were down) that would compete with writes for the machine.
 */
export function shedQuery(pool: pg.Pool, maxWaiting: number, retryAfterSeconds = 2): Query {
  const query = preparedQuery(pool);
  return async <T>(sql: Prisma.Sql) => {
    if (pool.waitingCount >= maxWaiting) {
      throw new AppError(
        'SERVICE_OVERLOADED',
        `${pool.waitingCount} reads are waiting for the database; retry after ${retryAfterSeconds} s`,
        {
          headers: { 'retry-after': String(retryAfterSeconds) },
        },
      );
    }
    return query<T>(sql);
  };
}
