// Prepared statements on the pg pool (src/infra/db/prepared.ts): the transactions of hot writes hold a connection
// between their queries, and must survive losing it there as any query would.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import { preparedTransaction } from '../../src/infra/db/prepared.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('preparedTransaction', () => {
  it('commits what run wrote, and rolls back when run throws', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS t (n int)');
    await preparedTransaction(pool, (query) => query(Prisma.sql`INSERT INTO t VALUES (${1}::int)`));
    await expect(
      preparedTransaction(pool, async (query) => {
        await query(Prisma.sql`INSERT INTO t VALUES (${2}::int)`);
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect((await pool.query('SELECT array_agg(n) AS ns FROM t')).rows[0].ns).toEqual([1]);
  });

  it('a connection lost while it is held between two queries fails that transaction, not the process', async () => {
    const outcome = preparedTransaction(pool, async (query) => {
      const [row] = await query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid`);
      await db.query('SELECT pg_terminate_backend($1)', [row?.pid]);
      // The client learns it here, with no query of its own running: pg emits the error on the client.
      await new Promise((resolve) => setTimeout(resolve, 300));
      return query(Prisma.sql`SELECT 1 AS one`);
    });
    await expect(outcome).rejects.toThrow();
    // The lost connection left the pool; the next transaction gets a working one.
    const rows = await preparedTransaction(pool, (query) => query<{ one: number }>(Prisma.sql`SELECT 1 AS one`));
    expect(rows).toEqual([{ one: 1 }]);
  });
});
