// GET /v1/audit: the audit trail, newest first, for admins.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { encodeCursor } from '../../infra/http/pagination.js';
import { problemResponses } from '../../infra/http/problems.js';
import { auditEntrySchema, auditQuery } from './audit.schemas.js';

export async function auditRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/audit',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['audit'],
        operationId: 'audit.list',
        summary: 'The audit trail of every write, newest first',
        querystring: auditQuery,
        response: {
          200: z.object({ items: z.array(auditEntrySchema), nextCursor: z.string().nullable() }),
          ...problemResponses(400, 401, 403, 429),
        },
      },
    },
    async (request) => {
      const { actor, action, entity, since, until, cursor, limit } = request.query;
      const page = await app.services.audit.list(
        { actor, action, entityId: entity, since, until, before: cursor?.before },
        limit,
      );
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );
}
