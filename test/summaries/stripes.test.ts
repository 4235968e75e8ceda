// The tallies' stripes (testigo_tallies_stripe): each writing transaction claims a stripe no other one holds, so
// writers never wait for one another on the version or a tally row. With stripes by backend (pid % 8), nine
// concurrent writers had to share one, and a transaction that had bumped in one statement could then wait in
// the next for a lock held by the other writer of its stripe, which waited for the bump: a deadlock (seen as a
// 500 in test/summaries/consistency.test.ts, between a results verdict and a concurrent insert).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let pool: pg.Pool;
const WRITERS = 12;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: WRITERS + 2 });
  // Clients still closing when the database's FORCE drop ends them are no test's failure.
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held VALUES (1)');
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

const version = async () => Number((await pool.query('SELECT testigo_tallies_version() AS v')).rows[0].v);

describe('tally stripes', () => {
  it(`${WRITERS} concurrent writers each bump their own stripe, none waits, and each keeps its stripe`, async () => {
    const before = await version();
    const clients = await Promise.all(Array.from({ length: WRITERS }, () => pool.connect()));
    try {
      const claimed: number[] = [];
      for (const client of clients) {
        await client.query('BEGIN');
        // Waiting at all is a failure: a writer that must wait for another's stripe can be part of a deadlock.
        await client.query("SET LOCAL lock_timeout = '2s'");
        await client.query('SELECT testigo_tallies_bump()');
        claimed.push(Number((await client.query("SELECT current_setting('testigo.stripe') AS s")).rows[0].s));
      }
      expect(new Set(claimed).size).toBe(WRITERS);
      // A second statement of the same transaction bumps the stripe it claimed.
      for (const [i, client] of clients.entries()) {
        await client.query('SELECT testigo_tallies_bump()');
        expect(Number((await client.query("SELECT current_setting('testigo.stripe') AS s")).rows[0].s)).toBe(
          claimed[i],
        );
      }
      // Uncommitted bumps are not seen by others.
      expect(await version()).toBe(before);
      for (const client of clients) await client.query('COMMIT');
      expect(await version()).toBe(before + 2 * WRITERS);
      // A stripe is claimed anew by the next transaction: its backend's own (pid % 8) when free, so that each
      // backend keeps to its rows and readers see few stripes.
      const first = clients[0] as pg.PoolClient;
      await first.query('BEGIN');
      await first.query('SELECT testigo_tallies_bump()');
      const { rows } = await first.query(
        "SELECT current_setting('testigo.stripe')::int AS s, pg_backend_pid() % 8 AS home",
      );
      expect(rows[0].s).toBe(rows[0].home);
      await first.query('COMMIT');
    } finally {
      for (const client of clients) client.release();
    }
  });

  it('a writer that bumped, then waits for a row another writer holds, does not block that writer: no deadlock', async () => {
    // b is a backend that a stripe by backend (pid % 8) would have given a's stripe: then this deadlocks.
    const pidOf = async (client: pg.ClientBase) =>
      (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const a = new pg.Client({ connectionString: db.url });
    await a.connect();
    const spare: pg.Client[] = [];
    let b: pg.Client | undefined;
    try {
      const stripe = (await pidOf(a)) % 8;
      while (!b) {
        const candidate = new pg.Client({ connectionString: db.url });
        await candidate.connect();
        if ((await pidOf(candidate)) % 8 === stripe) b = candidate;
        else spare.push(candidate);
      }
      await a.query('BEGIN');
      await a.query('SELECT testigo_tallies_bump()');
      await b.query('BEGIN');
      await b.query('SELECT 1 FROM held WHERE id = 1 FOR UPDATE');
      // a waits for b's row (as a results verdict waits for a centre's tally row held by a concurrent insert) ...
      const waiting = a.query('SELECT 1 FROM held WHERE id = 1 FOR UPDATE');
      await new Promise((resolve) => setTimeout(resolve, 100));
      // ... while b bumps: on a's stripe it would wait for a, which waits for b.
      await b.query("SET LOCAL lock_timeout = '2s'");
      await b.query('SELECT testigo_tallies_bump()');
      await b.query('COMMIT');
      await waiting;
      await a.query('COMMIT');
    } finally {
      await Promise.all([a, b, ...spare].map((client) => client?.end()));
    }
  });
});
