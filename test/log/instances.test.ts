// Two API instances on one database integrate concurrently (each runs the integrator; the advisory lock lets one
// at a time): leaf indices stay contiguous, every report is one leaf, and checkpoints only ever grow.
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { as } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { reportPayload, seedRegistry, setElection } from '../helpers/factories.js';

const env = { LOG_MERGE_DELAY_MS: '100', RATE_LIMIT_PER_TOKEN: '0' };
const { app, admin, db, config } = await setupTestApp({ env });
const second = await buildApp({ config, database: createDatabase(databaseOptions(config, db.url)) });
afterAll(() => second.close());
await seedRegistry(app, admin);
await setElection(app, admin);

describe('two instances integrating at once', () => {
  it('keep indices contiguous from 0, one leaf per report', async () => {
    await second.ready();
    const sends = Array.from({ length: 300 }, (_, i) =>
      as(i % 2 ? second : app, admin)({ method: 'POST', url: '/v1/reports', payload: reportPayload('arrival') }),
    );
    const answers = await Promise.all(sends);
    expect(answers.every((answer) => answer.statusCode === 201)).toBe(true);
    const deadline = Date.now() + 15_000;
    while ((await db.query<{ n: string }>('SELECT count(*) AS n FROM log_pending'))[0]!.n !== '0') {
      if (Date.now() > deadline) throw new Error('the queue did not drain');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [leaves] = await db.query<{ n: string; max: string; reports: string; distinct_reports: string }>(`
      SELECT count(*) AS n, max(idx) AS max, (SELECT count(*) FROM reports) AS reports,
             count(DISTINCT report_id) AS distinct_reports FROM log_leaves`);
    expect(Number(leaves!.n)).toBe(Number(leaves!.max) + 1);
    expect(Number(leaves!.n)).toBe(Number(leaves!.reports));
    expect(leaves!.distinct_reports).toBe(leaves!.reports);
    // Checkpoints were signed by both processes' integrators over time, each larger than the one before.
    const checkpoints = await db.query<{ size: string }>('SELECT size FROM log_checkpoints ORDER BY created_at, size');
    const sizes = checkpoints.map((row) => Number(row.size));
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(sizes.at(-1)).toBe(Number(leaves!.n));
    expect((await app.services.log.verify()).problems).toEqual([]);
  }, 60_000);
});
