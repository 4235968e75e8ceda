// The log's queue (log_pending) is a table whose rows all die within a second of their insert: the integrator
// vacuums it every 5,000 rows it integrates, so that inserts reuse the dead rows' space instead of extending the
// table (only a vacuum records reusable space) and scans of the queue do not read a growing run of dead pages.
import { describe, expect, it } from 'vitest';
import { setupTestApp } from '../helpers/app.js';

const { app, db } = await setupTestApp();

/** 5,000 queued rows (the integrator's batch) whose report does not exist: integrated as missing, then deleted. */
const queue = () =>
  db.query(`INSERT INTO log_pending (type, report_id, revision, created_at)
            SELECT 'report', gen_random_uuid(), 1, now() FROM generate_series(1, 5000)`);
const pages = async () =>
  Number((await db.query<{ pages: string }>(`SELECT pg_relation_size('log_pending') / 8192 AS pages`))[0]?.pages);

describe('the log queue', () => {
  it('keeps its size: three rounds of 5,000 queued and integrated need the pages of one', async () => {
    await app.ready();
    // Only this test integrates (the process's own integrator would race it to the vacuum).
    await app.services.log.stopIntegrator();
    const before = await pages();
    await queue();
    const oneRound = (await pages()) - before;
    expect(oneRound).toBeGreaterThan(20);
    await app.services.log.integrateAll();
    for (let round = 2; round <= 3; round += 1) {
      await queue();
      await app.services.log.integrateAll();
    }
    expect((await db.query<{ n: string }>('SELECT count(*) AS n FROM log_pending'))[0]?.n).toBe('0');
    // Without the vacuum each round extends the table by `oneRound` pages (3 × in all).
    expect((await pages()) - before).toBeLessThanOrEqual(Math.ceil(oneRound * 1.5));
  }, 60_000);
});
