// The one database-error translator, fed errors produced for real: data errors from the shared test
// database (400), lost connections from a PostgreSQL of this file's own that it stops (503), and a pool
// of one held busy so that a transaction cannot start (503 with Retry-After through the app).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createDatabase, type Database, databaseOptions } from '../../src/infra/db/client.js';
import { translateDatabaseError } from '../../src/infra/db/errors.js';
import { toAppError } from '../../src/infra/http/problems.js';
import { createActor } from '../helpers/actors.js';
import { testConfig } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const BIN = '/usr/lib/postgresql/15/bin';
const asPostgres = (command: string, args: string[]) => {
  const [file, argv] =
    process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  return execFileSync(file, argv, { stdio: 'pipe', timeout: 60_000 });
};
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A throw-away PostgreSQL of this test (never the shared one), to stop under live connections. */
async function ownPostgres() {
  const dir = mkdtempSync(join(tmpdir(), 'testigo-dberr-'));
  chmodSync(dir, 0o777);
  const pgdata = join(dir, 'data');
  const port = await freePort();
  asPostgres(`${BIN}/initdb`, ['-D', pgdata, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-instructions']);
  const start = () =>
    asPostgres(`${BIN}/pg_ctl`, [
      '-D',
      pgdata,
      '-w',
      '-t',
      '30',
      '-l',
      join(dir, 'log'),
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=`,
      'start',
    ]);
  const stop = (mode: 'immediate' | 'fast') =>
    spawnSync(
      process.getuid?.() === 0 ? 'runuser' : `${BIN}/pg_ctl`,
      [
        ...(process.getuid?.() === 0 ? ['-u', 'postgres', '--', `${BIN}/pg_ctl`] : []),
        '-D',
        pgdata,
        '-m',
        mode,
        '-w',
        '-t',
        '30',
        'stop',
      ],
      { stdio: 'pipe', timeout: 60_000 },
    );
  start();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    stop,
    remove: () => {
      stop('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

function expectUnavailable(error: unknown) {
  const problem = translateDatabaseError(error);
  expect(problem?.code, String((error as Error)?.message)).toBe('DATABASE_UNAVAILABLE');
  expect(problem?.status).toBe(503);
  expect(problem?.extra.headers?.['retry-after']).toMatch(/^\d+$/);
  expect(toAppError(error as Error).code).toBe('DATABASE_UNAVAILABLE');
}

describe('translateDatabaseError › PostgreSQL data errors are 400 VALIDATION_FAILED', () => {
  let db: TestDatabase;
  let database: Database;
  beforeAll(async () => {
    db = await createTestDatabase();
    database = createDatabase(databaseOptions(testConfig(), db.url));
  });
  afterAll(async () => {
    await database.close();
    await db.drop();
  });
  it.each([
    ['22P05 untranslatable_character', `SELECT '"\\u0000"'::jsonb`],
    ['22008 datetime_field_overflow', `SELECT '2024-13-45'::date`],
    ['22003 numeric_value_out_of_range', `SELECT 99999999999::int`],
    ['22021 character_not_in_repertoire', `SELECT convert_from('\\x00'::bytea, 'UTF8')`],
    ['22007 invalid_datetime_format', `SELECT 'not a date'::timestamptz`],
    ['22P02 invalid_text_representation', `SELECT 'x'::int`],
    ['22001 string_data_right_truncation', `CREATE TEMP TABLE t (v varchar(1)); INSERT INTO t VALUES ('xx')`],
  ])('%s, from pg and through Prisma', async (name, sql) => {
    const state = name.split(' ')[0];
    const fromPg = await failure(db.query(sql));
    expect((fromPg as { code?: string }).code).toBe(state);
    const viaPrisma = await failure(
      database.prisma.$transaction(async (tx) => {
        for (const statement of sql.split('; ')) await tx.$executeRawUnsafe(statement);
      }),
    );
    for (const error of [fromPg, viaPrisma]) {
      const problem = translateDatabaseError(error);
      expect(problem?.code, `${name}: ${error.message}`).toBe('VALIDATION_FAILED');
      expect(problem?.status).toBe(400);
      expect(problem?.detail).not.toMatch(/jsonb|bytea|varchar|syntax|\binteger\b/);
    }
  });
  it('a statement timeout stays 503, through Prisma (whose P2010 code is not a SQLSTATE)', async () => {
    const error = await failure(
      database.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe('SET LOCAL statement_timeout = 50');
        await tx.$queryRawUnsafe('SELECT pg_sleep(2)');
      }),
    );
    expectUnavailable(error);
  });
});

describe('translateDatabaseError › the database went away is 503 DATABASE_UNAVAILABLE', { timeout: 120_000 }, () => {
  let server: Awaited<ReturnType<typeof ownPostgres>>;
  beforeAll(async () => {
    server = await ownPostgres();
  }, 120_000);
  afterAll(() => server?.remove());

  it('pg: a crash under a connected client, then every later query, then a closed client', async () => {
    const client = new pg.Client({ connectionString: server.url });
    client.on('error', () => undefined);
    await client.connect();
    const closed = new pg.Client({ connectionString: server.url });
    await closed.connect();
    await closed.end();
    const errors: Error[] = [await failure(closed.query('SELECT 1'))];
    const inTransaction = createDatabase({
      url: server.url,
      poolMax: 2,
      readPoolMax: 1,
      connectTimeoutMs: 1000,
      statementTimeoutMs: 5000,
      idleTimeoutMs: 10_000,
    });
    let crashed!: () => void;
    const crash = new Promise<void>((resolve) => (crashed = resolve));
    let stopped!: () => void;
    const gone = new Promise<void>((resolve) => (stopped = resolve));
    const transaction = failure(
      inTransaction.prisma.$transaction(
        async (tx) => {
          await tx.$queryRaw`SELECT 1`;
          crashed();
          // Wait until the server is gone, then use the transaction's dead connection.
          await gone;
          await tx.$queryRaw`SELECT 2`;
        },
        { timeout: 30_000 },
      ),
    );
    await crash;
    expect(server.stop('immediate').status).toBe(0);
    stopped();
    errors.push(await transaction);
    errors.push(await failure(client.query('SELECT 1')));
    errors.push(await failure(client.query('SELECT 1')));
    errors.push(await failure(inTransaction.prisma.$queryRaw`SELECT 1`));
    errors.push(await failure(inTransaction.prisma.$transaction(async (tx) => tx.$queryRaw`SELECT 1`)));
    const pool = new pg.Pool({ connectionString: server.url });
    await pool.end();
    errors.push(await failure(pool.query('SELECT 1')));
    await inTransaction.close();
    const messages = errors.map((error) => error.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        'Client was closed and is not queryable',
        'Client has encountered a connection error and is not queryable',
        'Cannot use a pool after calling end on the pool',
      ]),
    );
    for (const error of errors) expectUnavailable(error);
  });
});

describe('a transaction that cannot start is 503 DATABASE_UNAVAILABLE with Retry-After', { timeout: 60_000 }, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  it('Prisma P2028 "Unable to start a transaction in the given time" (maxWait shorter than the pool wait)', async () => {
    const database = createDatabase({
      url: db.url,
      poolMax: 1,
      readPoolMax: 1,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 5000,
      idleTimeoutMs: 10_000,
      transactionMaxWaitMs: 200,
    });
    const held = await database.pool.connect();
    try {
      const error = await failure(database.prisma.$transaction(async (tx) => tx.$queryRaw`SELECT 1`));
      expect(error).toMatchObject({
        code: 'P2028',
        message: expect.stringContaining('Unable to start a transaction in the given time'),
      });
      expectUnavailable(error);
    } finally {
      held.release();
      await database.close();
    }
  });

  it.each([
    ['maxWait = DATABASE_CONNECT_TIMEOUT_MS', {}],
    ['a shorter maxWait (P2028)', { transactionMaxWaitMs: 200 }],
  ])('POST /v1/users › 503 when a pool of one is held busy, %s', async (_name, overrides) => {
    const config = testConfig({
      DATABASE_URL: db.url,
      DATABASE_POOL_MAX: '1',
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    const database = createDatabase({ ...databaseOptions(config, db.url), ...overrides });
    const app = await buildApp({ config, database });
    try {
      const admin = await createActor(app, 'admin');
      // The token is cached now; hold the only connection.
      expect((await app.inject({ url: '/v1/me', headers: admin.headers })).statusCode).toBe(200);
      const held = await database.pool.connect();
      try {
        const response = await app.inject({
          method: 'POST',
          url: '/v1/users',
          headers: admin.headers,
          payload: { name: 'Waits', role: 'observer' },
        });
        expect(response.statusCode, response.body).toBe(503);
        expect(response.json().code).toBe('DATABASE_UNAVAILABLE');
        expect(response.headers['retry-after']).toMatch(/^\d+$/);
      } finally {
        held.release();
      }
      const retried = await app.inject({
        method: 'POST',
        url: '/v1/users',
        headers: admin.headers,
        payload: { name: 'Waits', role: 'observer' },
      });
      expect(retried.statusCode, retried.body).toBe(201);
    } finally {
      await app.close();
    }
  });
});
