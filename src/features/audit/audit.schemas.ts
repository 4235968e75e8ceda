// Schemas of the audit trail's route: an entry, and the filters of GET /v1/audit.
import { z } from 'zod';
import { cursorParam, limitParam } from '../../infra/http/pagination.js';
import { instantInput } from '../../infra/http/validation.js';

export const auditEntrySchema = z
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

export const auditQuery = z.strictObject({
  actor: z.uuid().optional(),
  action: z
    .string()
    .regex(/^[a-z_.]{1,60}$/)
    .optional()
    .meta({ description: 'An action (`user.created`) or a prefix (`user`)' }),
  entity: z.string().max(100).optional().meta({ description: 'The id of the changed entity' }),
  since: instantInput().optional(),
  until: instantInput().optional(),
  cursor: cursorParam(z.object({ before: z.string().regex(/^\d{1,18}$/) })).optional(),
  limit: limitParam(100, 1000),
});
