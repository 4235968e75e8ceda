// Writes that PostgreSQL rolls back because they met concurrent ones (src/infra/db/retry.ts): a real deadlock
// between two transactions on the test database, its victim run again by retryAborted until both are stored, and
// the translation of such an abort, retries exhausted, to 503 DATABASE_CONFLICT (never a 500).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import { isAbortedByConcurrency, translateDatabaseError } from '../../src/infra/db/errors.js';
import { preparedTransaction } from '../../src/infra/db/prepared.js';
import { retryAborted } from '../../src/infra/db/retry.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // Clients still closing when the database's FORCE drop ends them are no test's failure.
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE rows (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)');
  await pool.query('INSERT INTO rows (id) VALUES (1), (2)');
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

/** Two transactions that lock rows 1 and 2 in opposite orders, each waiting for the other after its first lock. */
function crossed(run: (first: number, second: number) => Promise<unknown>) {
  return Promise.allSettled([run(1, 2), run(2, 1)]);
}

const lockBoth = (attempts: { n: number }) => (first: number, second: number) =>
  preparedTransaction(pool, async (query) => {
    attempts.n += 1;
    await query(Prisma.sql`UPDATE rows SET n = n + 1 WHERE id = ${first}::int`);
    // Both hold their first row before either asks for its second.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await query(Prisma.sql`UPDATE rows SET n = n + 1 WHERE id = ${second}::int`);
  });

describe('retryAborted', () => {
  it('a deadlock victim, run alone, fails with 40P01, which translates to 503 DATABASE_CONFLICT', async () => {
    const attempts = { n: 0 };
    const outcomes = await crossed(lockBoth(attempts));
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(failed).toHaveLength(1);
    const error = (failed[0] as PromiseRejectedResult).reason;
    expect(isAbortedByConcurrency(error)).toBe(true);
    const translated = translateDatabaseError(error);
    expect(translated?.code).toBe('DATABASE_CONFLICT');
    expect(translated?.status).toBe(503);
    expect(translated?.extra.headers?.['retry-after']).toBe('5');
  });

  it('runs the victim again: both transactions are stored, each once', async () => {
    const before = (await pool.query('SELECT sum(n)::int AS n FROM rows')).rows[0].n as number;
    const attempts = { n: 0 };
    const outcomes = await crossed((first, second) => retryAborted(() => lockBoth(attempts)(first, second)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(attempts.n).toBe(3); // two, and the victim's second attempt
    expect((await pool.query('SELECT sum(n)::int AS n FROM rows')).rows[0].n).toBe(before + 4);
  });

  it('any other error is thrown at once, and an abort after the last attempt as it came', async () => {
    let runs = 0;
    await expect(
      retryAborted(async () => {
        runs += 1;
        await pool.query('SELECT 1/0');
      }),
    ).rejects.toThrow('division by zero');
    expect(runs).toBe(1);
    runs = 0;
    const abort = Object.assign(new Error('could not serialize access'), { code: '40001' });
    await expect(
      retryAborted(async () => {
        runs += 1;
        throw abort;
      }, 2),
    ).rejects.toBe(abort);
    expect(runs).toBe(2);
  });
});
