// GET /v1/audit: the audit trail, newest first, for admins.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../../infra/http/problems.js';
import { cursorParam, encodeCursor, limitParam, pageOf } from '../../infra/http/pagination.js';
import { instantInput } from '../../infra/http/validation.js';
import { auditRepository } from './audit.repository.js';

const auditEntrySchema = z
  .object({
    id: z.string(),
    at: z.iso.datetime(),
    actorId: z.uuid().nullable().meta({ description: 'null: the system (CLI, start-up)' }),
    actorRole: z.string().nullable(),
    action: z.string(),
    entityType: z.string(),
    entityId: z.string().nullable(),
    requestId: z.string().nullable(),
    ip: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEntry' });

const auditQuery = z.strictObject({
  actor: z.uuid().optional(),
  action: z.string().regex(/^[a-z_.]{1,60}$/).optional().meta({ description: 'An action (`user.created`) or a prefix (`user`)' }),
  entity: z.string().max(100).optional().meta({ description: 'The id of the changed entity' }),
  since: instantInput().optional(),
  until: instantInput().optional(),
  cursor: cursorParam(z.object({ before: z.string().regex(/^\d{1,18}$/) })).optional(),
  limit: limitParam(100, 1000),
});

export async function auditRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/audit',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['audit'], operationId: 'audit.list', summary: 'The audit trail of every write, newest first',
        querystring: auditQuery,
        response: { 200: z.object({ items: z.array(auditEntrySchema), nextCursor: z.string().nullable() }), ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { actor, action, entity, since, until, cursor, limit } = request.query;
      const rows = await auditRepository.list(app.db.prisma, {
        actor, action, entityId: entity, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined,
        before: cursor ? BigInt(cursor.before) : undefined, limit: limit + 1,
      });
      const page = pageOf(rows, limit, (last) => ({ before: last.id.toString() }));
      return { items: page.items.map((row) => ({ ...row, id: row.id.toString(), at: row.at.toISOString() })), nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );
}
