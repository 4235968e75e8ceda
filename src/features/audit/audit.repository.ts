// Reads of the audit trail (its writer, used by every feature's writes, is src/infra/audit.ts).
import { Prisma } from '../../generated/prisma/client.js';
import type { Db as Sql } from '../../infra/db/client.js';
import { escapeLike } from '../../infra/db/sql.js';

export interface AuditRow {
  id: bigint;
  at: Date;
  actorId: string | null;
  actorRole: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  requestId: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export const auditRepository = {
  async list(
    db: Sql,
    filter: {
      actor?: string;
      action?: string;
      entityId?: string;
      since?: Date;
      until?: Date;
      before?: bigint;
      limit: number;
    },
  ): Promise<AuditRow[]> {
    const conditions = [
      filter.actor ? Prisma.sql`actor_id = ${filter.actor}::uuid` : undefined,
      filter.action
        ? Prisma.sql`(action = ${filter.action} OR action LIKE ${`${escapeLike(filter.action)}.%`})`
        : undefined,
      filter.entityId ? Prisma.sql`entity_id = ${filter.entityId}` : undefined,
      filter.since ? Prisma.sql`at >= ${filter.since}` : undefined,
      filter.until ? Prisma.sql`at < ${filter.until}` : undefined,
      filter.before !== undefined ? Prisma.sql`id < ${filter.before}` : undefined,
    ].filter((condition): condition is Prisma.Sql => condition !== undefined);
    const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
    return db.$queryRaw`
      SELECT id, at, actor_id AS "actorId", actor_role AS "actorRole", action, entity_type AS "entityType",
             entity_id AS "entityId", request_id AS "requestId", ip, details
      FROM audit_entries ${where} ORDER BY id DESC LIMIT ${filter.limit}`;
  },
};
export type AuditRepository = typeof auditRepository;

/** The reads of the trail, on `db` (what the audit service is given). */
export const createAuditReader = (db: Sql) => ({
  list: (filter: Parameters<AuditRepository['list']>[1]) => auditRepository.list(db, filter),
});
export type AuditReader = ReturnType<typeof createAuditReader>;
