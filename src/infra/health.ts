// Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database answers and every
// migration this version ships is applied). Neither touches more than one cheap query.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isDatabaseUnavailable } from './db/errors.js';
import { readMigrations } from './db/migrator.js';
import { AppError } from './errors.js';
import { problemResponses } from './http/problems.js';

const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
const readySchema = z.object({ status: z.literal('ready'), migrations: z.number().int() }).meta({ id: 'Ready' });

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  const expected = (await readMigrations()).map((migration) => migration.name);
  const route = app.withTypeProvider<ZodTypeProvider>();

  route.get(
    '/healthz',
    { config: { public: true }, schema: { tags: ['health'], operationId: 'health.live', summary: 'The process is alive', response: { 200: healthSchema } } },
    async () => ({ status: 'ok' as const }),
  );

  route.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        operationId: 'health.ready',
        summary: 'The database is reachable and migrated',
        response: { 200: readySchema, ...problemResponses(503) },
      },
    },
    async () => {
      let applied: Set<string>;
      try {
        const rows = await app.db.prisma.$queryRawUnsafe<{ migration_name: string }[]>(
          'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
        );
        applied = new Set(rows.map((row) => row.migration_name));
      } catch (error) {
        const detail = isDatabaseUnavailable(error) ? 'The database cannot be reached.' : 'The database has no migrations applied.';
        throw new AppError('NOT_READY', detail, { headers: { 'retry-after': '5' } });
      }
      const pending = expected.filter((name) => !applied.has(name));
      if (pending.length > 0) throw new AppError('NOT_READY', `Pending migrations: ${pending.join(', ')}`, { headers: { 'retry-after': '5' } });
      return { status: 'ready' as const, migrations: expected.length };
    },
  );
}
