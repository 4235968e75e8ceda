// Two `db:migrate` processes on one empty database at the same time: the advisory lock makes them take
// turns, so each migration is applied (and recorded) exactly once, with Prisma's checksum.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRISMA_ADVISORY_LOCK } from '../../src/infra/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { killAllRuns, ROOT, run } from '../helpers/server-process.js';

const migrationsDir = join(ROOT, 'prisma', 'migrations');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase | undefined;
let holder: pg.Client | undefined;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
}, 60_000);

afterAll(async () => {
  killAllRuns();
  await holder?.end().catch(() => undefined);
  await db?.drop();
}, 60_000);

describe('db:migrate run by two processes at once', () => {
  it('applies each migration once, recorded with the sha256 of its migration.sql', async () => {
    expect(await db!.query("SELECT 1 FROM pg_tables WHERE tablename = '_prisma_migrations'")).toHaveLength(0);

    // Hold the migrator's lock so that both processes are certainly inside migrate() at the same time.
    holder = new pg.Client({ connectionString: db!.url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);

    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db!.url, LOG_LEVEL: 'info' };
    delete env.TEST_DATABASE_URL;
    const migrate = () => run('npx', ['tsx', 'src/cli/index.ts', 'db:migrate'], { env, timeoutMs: 90_000 });
    const both = Promise.all([migrate(), migrate()]);
    both.catch(() => undefined);

    // Both wait on the lock (bounded), then go.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const waiting = await db!.query<{ count: string }>(
        `SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'testigo-migrate' AND wait_event_type = 'Lock'`,
      );
      if (Number(waiting[0]!.count) === 2) break;
      if (Date.now() > deadline) throw new Error('the two migrators never waited on the lock together');
      await sleep(100);
    }
    await holder.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]);

    const results = await both;
    for (const result of results) {
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toContain('migrations applied');
    }

    const expected = readdirSync(migrationsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
      .map((name) => ({
        migration_name: name,
        checksum: createHash('sha256')
          .update(readFileSync(join(migrationsDir, name, 'migration.sql')))
          .digest('hex'),
      }));
    expect(expected.length).toBeGreaterThan(0);

    const rows = await db!.query<{
      migration_name: string;
      checksum: string;
      finished: boolean;
      rolled_back: boolean;
      applied_steps_count: number;
    }>(
      `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back, applied_steps_count
         FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    expect(rows.map(({ migration_name, checksum }) => ({ migration_name, checksum }))).toEqual(expected);
    for (const row of rows) {
      expect(row).toMatchObject({ finished: true, rolled_back: false, applied_steps_count: 1 });
    }
    // The schema itself exists once (a second application would have failed on CREATE TABLE).
    expect(
      await db!.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'polling_tables'"),
    ).toHaveLength(1);
  }, 120_000);
});
