// Reads exact at the tallies' version (testigo_tallies_version(), summaries.functions.sql): the version clock
// of this process, its versioned answer cache, and snapshots that read the version together with an answer.
// Built once per app in src/services.ts and shared: summaries use it, and so may any feature whose answers
// change only with what bumps the version (call testigo_tallies_bump() in the transaction of any other
// write that changes such an answer, e.g. publishing a form).
import type pg from 'pg';
import { createVersionedCache, type VersionedCache, versionClock } from '../../infra/cache/versioned.js';
import { preparedQuery, type Query } from '../../infra/db/prepared.js';
import { AppError } from '../../infra/errors.js';

export interface TalliesReads {
  /** The process's answer cache keyed by the tallies' version (its `clock` gives the version, coalesced). */
  cache: VersionedCache;
  /**
   * Runs `work` in one REPEATABLE READ READ ONLY snapshot on the read pool, with the tallies' version read in
   * that snapshot: the pair is exact. Refused with 503 SERVICE_OVERLOADED while `maxWaiting` reads wait.
   */
  snapshot<T>(work: (run: Query) => Promise<T>): Promise<{ version: number; value: T }>;
  /** The current version, read now (no coalescing). */
  readVersion(): Promise<number>;
}

const VERSION_SQL = 'SELECT testigo_tallies_version()::float8 AS v';

export function createTalliesReads(
  pool: pg.Pool,
  options: { maxWaiting?: number | undefined; maxEntries?: number; maxBytes?: number } = {},
): TalliesReads {
  const shed = () => {
    if (options.maxWaiting !== undefined && pool.waitingCount >= options.maxWaiting) {
      throw new AppError(
        'SERVICE_OVERLOADED',
        `${pool.waitingCount} reads are waiting for the database; retry shortly`,
        {
          headers: { 'retry-after': '2' },
        },
      );
    }
  };
  const readVersion = async () => {
    shed();
    const { rows } = await pool.query<{ v: number }>({ name: 'testigo_tallies_version', text: VERSION_SQL });
    return Number(rows[0]!.v);
  };
  const cache = createVersionedCache({
    clock: versionClock(readVersion),
    ...(options.maxEntries ? { maxEntries: options.maxEntries } : {}),
    ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
  });
  return {
    cache,
    readVersion,
    async snapshot(work) {
      shed();
      const client = await pool.connect();
      let open = false;
      try {
        // One round trip: the transaction, and its first statement, which takes the snapshot, so that the
        // version and everything `work` reads agree.
        open = true;
        const results = (await client.query(
          `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${VERSION_SQL}`,
        )) as unknown as pg.QueryResult<{ v: number }>[];
        const version = Number(results[1]!.rows[0]!.v);
        const value = await work(preparedQuery(client));
        open = false;
        // Not awaited: a client runs its queries in order, so whoever takes it next from the pool runs after
        // this COMMIT; a read-only transaction has nothing a failed COMMIT could lose.
        client.query('COMMIT').catch(() => undefined);
        client.release();
        return { version, value };
      } catch (error) {
        if (open) await client.query('ROLLBACK').catch(() => undefined);
        client.release();
        throw error;
      }
    },
  };
}
