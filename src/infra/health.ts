// Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database answers and every
// migration this version ships is applied; the body also says whether the photo store answers).
//
// `/healthz` does no I/O and is exempt from load shedding (@fastify/under-pressure): a busy instance is
// alive, and an orchestrator must not restart it for being busy.
// `/readyz` answers within a second and never depends on the request pool: the database is checked on a
// connection of its own (one pg client, reconnected when lost), with connect and query timeouts under a
// second, so a busy pool (its queue timing out) is never reported as "the database cannot be reached".
// One check (database and store together) serves every probe for READY_CACHE_MS: probes cost at most one
// query and one store call per second, however many arrive.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import pg from 'pg';
import { z } from 'zod';
import { isDatabaseUnavailable, sqlState } from './db/errors.js';
import { readMigrations } from './db/migrator.js';
import { AppError } from './errors.js';
import { problemResponses } from './http/problems.js';
import type { StorageState } from './storage/plugin.js';

/** Bound of each check (database, store); with the answer's own work, /readyz answers within a second. */
const READY_TIMEOUT_MS = 800;
/** How long one check's outcome answers later probes. */
const READY_CACHE_MS = 1000;

const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
const readySchema = z
  .object({
    status: z.literal('ready'),
    migrations: z.number().int(),
    storage: z.enum(['ok', 'unreachable', 'full']).meta({
      description: 'Whether the photo store answers (`full`: its last write found no room). Reports flow either way.',
    }),
  })
  .meta({ id: 'Ready' });

type DatabaseOutcome = { ok: true; applied: Set<string> } | { ok: false; detail: string };

/** The database as seen from a connection of its own, bounded by READY_TIMEOUT_MS. */
function databaseProbe(url: string) {
  let client: pg.Client | undefined;
  const drop = (stale: pg.Client | undefined) => {
    if (client === stale) client = undefined;
    stale?.end().catch(() => undefined);
  };
  const query = async (): Promise<Set<string>> => {
    if (!client) {
      const fresh = new pg.Client({
        connectionString: url,
        connectionTimeoutMillis: READY_TIMEOUT_MS,
        query_timeout: READY_TIMEOUT_MS,
        statement_timeout: READY_TIMEOUT_MS,
        application_name: 'testigo-readyz',
        keepAlive: true,
      });
      fresh.on('error', () => drop(fresh));
      client = fresh;
      try {
        await fresh.connect();
      } catch (error) {
        drop(fresh);
        throw error;
      }
    }
    const current = client;
    try {
      const { rows } = await current.query<{ migration_name: string }>(
        'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
      );
      return new Set(rows.map((row) => row.migration_name));
    } catch (error) {
      if (isDatabaseUnavailable(error)) drop(current);
      throw error;
    }
  };
  return {
    async check(): Promise<DatabaseOutcome> {
      let timer: NodeJS.Timeout | undefined;
      try {
        const applied = await Promise.race([
          query(),
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  Object.assign(new Error('connection timeout: no answer within the readiness bound'), {
                    code: 'ETIMEDOUT',
                    readiness: true,
                  }),
                ),
              READY_TIMEOUT_MS + 100,
            );
          }),
        ]);
        return { ok: true, applied };
      } catch (error) {
        // Only PostgreSQL's own answer says more than "unreachable": no migrations table, or another refusal.
        const state = sqlState(error);
        if (state === '42P01') return { ok: false, detail: 'The database has no migrations applied.' };
        drop(client); // a connection that failed or did not answer in time is not trusted again
        if (state && !isDatabaseUnavailable(error))
          return { ok: false, detail: `The database refused the readiness query (SQLSTATE ${state}).` };
        // Connected, but the query got no answer in time (the backstop, or pg's query_timeout).
        if ((error as { readiness?: boolean }).readiness || /Query read timeout/.test(String((error as Error).message)))
          return { ok: false, detail: `The database did not answer within ${READY_TIMEOUT_MS} ms.` };
        return { ok: false, detail: 'The database cannot be reached.' };
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => drop(client),
  };
}

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  const expected = (await readMigrations()).map((migration) => migration.name);
  const route = app.withTypeProvider<ZodTypeProvider>();
  const database = databaseProbe(app.db.url);
  app.addHook('onClose', async () => database.close());

  let last: { at: number; outcome: Promise<{ database: DatabaseOutcome; storage: StorageState }> } | undefined;
  const readiness = () => {
    if (!last || Date.now() - last.at >= READY_CACHE_MS) {
      const outcome = Promise.all([database.check(), app.storageState(READY_TIMEOUT_MS)]).then(([db, storage]) => ({
        database: db,
        storage,
      }));
      last = { at: Date.now(), outcome };
      // The cache starts when the check ends, so that a slow check is not repeated by every waiting probe.
      void outcome.then(() => {
        if (last?.outcome === outcome) last.at = Date.now();
      });
    }
    return last.outcome;
  };

  route.get(
    '/healthz',
    {
      // A route's own pressureHandler that answers nothing lets the request through @fastify/under-pressure.
      config: { public: true, pressureHandler: () => undefined },
      schema: {
        tags: ['health'],
        operationId: 'health.live',
        summary: 'The process is alive (never shed under load)',
        response: { 200: healthSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  route.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        operationId: 'health.ready',
        summary: 'The database is reachable and migrated (checked at most once a second, answered within one)',
        response: { 200: readySchema, ...problemResponses(503) },
      },
    },
    async () => {
      const { database: db, storage } = await readiness();
      if (!db.ok) throw new AppError('NOT_READY', db.detail, { headers: { 'retry-after': '5' } });
      const pending = expected.filter((name) => !db.applied.has(name));
      if (pending.length > 0)
        throw new AppError('NOT_READY', `Pending migrations: ${pending.join(', ')}`, {
          headers: { 'retry-after': '5' },
        });
      return { status: 'ready' as const, migrations: expected.length, storage };
    },
  );
}
