// The audit trail's writer: one append-only row per write, inserted in the transaction of the write itself (every
// feature's repository adds it to its statements). Reading the trail is the audit feature's.
import { Prisma } from '../generated/prisma/client.js';
import type { RequestContext } from './auth/actor.js';
import type { Db as Sql } from './db/client.js';

export interface AuditEvent {
  action: string;
  entityType: string;
  entityId?: string | null;
  details?: Record<string, unknown>;
}

/** actor_id, actor_role, request_id, ip, details: `context` as SQL expressions over `source`. */
const insertSelect = (
  source: string,
  action: string,
  entityType: string,
  context: Prisma.Sql,
): Prisma.Sql => Prisma.sql`
  INSERT INTO audit_entries (actor_id, actor_role, request_id, ip, details, action, entity_type, entity_id)
  SELECT ${context}, ${action}, ${entityType}, ${Prisma.raw(source)}.id::text
  FROM ${Prisma.raw(source)}`;

export const auditTrail = {
  /**
   * An INSERT of one audit row per row of the CTE `source` (its `id` column is the entity id), to add to a
   * write statement, so that the change and its audit entry are one statement and one round trip.
   */
  insertFrom(context: RequestContext, source: string, event: Omit<AuditEvent, 'entityId'>): Prisma.Sql {
    return insertSelect(
      source,
      event.action,
      event.entityType,
      Prisma.sql`
      ${context.actor?.userId ?? null}::uuid, ${context.actor?.role ?? null}, ${context.requestId}, ${context.ip},
      ${JSON.stringify(event.details ?? {})}::jsonb`,
    );
  },

  /**
   * The same for rows written for several requests at once: `source` carries each row's own context and
   * details as columns id, actor_id, actor_role, request_id, ip and details.
   */
  insertFromEach(source: string, event: Pick<AuditEvent, 'action' | 'entityType'>): Prisma.Sql {
    return insertSelect(
      source,
      event.action,
      event.entityType,
      Prisma.sql`
      ${Prisma.raw(source)}.actor_id, ${Prisma.raw(source)}.actor_role, ${Prisma.raw(source)}.request_id,
      ${Prisma.raw(source)}.ip, ${Prisma.raw(source)}.details`,
    );
  },

  /** Records events done under `context`, in one statement, inside the caller's transaction. */
  async record(tx: Sql, context: RequestContext, events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((event) => ({
      actor_id: context.actor?.userId ?? null,
      actor_role: context.actor?.role ?? null,
      action: event.action,
      entity_type: event.entityType,
      entity_id: event.entityId ?? null,
      request_id: context.requestId,
      ip: context.ip,
      details: event.details ?? {},
    }));
    await tx.$executeRaw`
      INSERT INTO audit_entries (actor_id, actor_role, action, entity_type, entity_id, request_id, ip, details)
      SELECT actor_id, actor_role, action, entity_type, entity_id, request_id, ip, details
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS x(actor_id uuid, actor_role text, action text, entity_type text, entity_id text, request_id text,
             ip text, details jsonb)`;
  },
};
