// The database client: Prisma 7 over @prisma/adapter-pg, on one bounded pg pool with timeouts,
// so that a stopped PostgreSQL gives fast errors (mapped to 503) rather than hung requests; and a second,
// small pool for the reads of dashboards and analysts (summaries, recounts, exports), so that however many
// of those run, they never take the connections that observers' writes need.

import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { type Prisma, PrismaClient } from '../../generated/prisma/client.js';

/** What repositories run statements on: the client, or the transaction they are part of. */
export type Db = PrismaClient | Prisma.TransactionClient;

/** A repository's statements (functions taking the client first) with the client given. */
export type Bound<T> = {
  [K in keyof T]: T[K] extends (db: Db, ...args: infer A) => infer R ? (...args: A) => R : T[K];
};

/** Options of a transaction (how long it may wait to start and run). */
export interface TransactionOptions {
  maxWait?: number;
  timeout?: number;
}

/** `statements` on `db`. */
export function bindStatements<T extends object>(db: Db, statements: T): Bound<T> {
  const entries = Object.entries(statements).map(([name, value]) => [
    name,
    typeof value === 'function' ? (...args: unknown[]) => value.call(statements, db, ...args) : value,
  ]);
  return Object.fromEntries(entries) as Bound<T>;
}

/**
 * A repository's statements on `prisma`, and `transaction(run)`: `run` gets the same statements inside one
 * transaction, committed when it resolves and rolled back when it throws.
 */
export function repositoryOf<T extends object>(prisma: PrismaClient, statements: T) {
  return {
    ...bindStatements(prisma, statements),
    transaction: <R>(run: (tx: Bound<T>) => Promise<R>, options?: TransactionOptions): Promise<R> =>
      prisma.$transaction((tx) => run(bindStatements(tx, statements)), options),
  };
}

export interface DatabaseOptions {
  url: string;
  poolMax: number;
  /** Connections of the read pool (`readPool`). */
  readPoolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  idleTimeoutMs: number;
  applicationName?: string;
  /** How long a transaction waits to start (for a connection); by default `connectTimeoutMs`, like any query. */
  transactionMaxWaitMs?: number;
}

export interface Database {
  url: string;
  prisma: PrismaClient;
  pool: pg.Pool;
  /** The small pool for long and bulk reads: summaries, recounts and exports run here, never on `pool`. */
  readPool: pg.Pool;
  close(): Promise<void>;
}

/** The pool settings of the configuration, for the database at `url`. */
export function databaseOptions(config: Config, url: string, applicationName?: string): DatabaseOptions {
  return {
    url,
    poolMax: config.DATABASE_POOL_MAX,
    readPoolMax: config.DATABASE_READ_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    idleTimeoutMs: config.DATABASE_IDLE_TIMEOUT_MS,
    applicationName,
  };
}

function createPool(options: DatabaseOptions, max: number, applicationName: string, log?: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: options.idleTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    // A query stuck on a dead socket is abandoned a little after the server-side timeout would fire.
    query_timeout: options.statementTimeoutMs + 5000,
    keepAlive: true,
    application_name: applicationName,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', (err) => log?.warn({ err }, 'idle database connection lost'));
  return pool;
}

export function createDatabase(options: DatabaseOptions, log?: Logger): Database {
  const name = options.applicationName ?? 'testigo';
  const pool = createPool(options, options.poolMax, name, log);
  const readPool = createPool(options, options.readPoolMax, `${name}-reads`, log);
  // A transaction waits for a connection as long as any query does (then P2028 or the pool's timeout: both 503),
  // and may run as long as one statement may.
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool),
    transactionOptions: {
      maxWait: options.transactionMaxWaitMs ?? options.connectTimeoutMs,
      timeout: options.statementTimeoutMs,
    },
  });
  let closed = false;
  return {
    url: options.url,
    prisma,
    pool,
    readPool,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await Promise.all([pool.end(), readPool.end()]);
    },
  };
}
