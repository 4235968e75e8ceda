// SQL of users, their tokens and assignments. Visibility conditions come from infra/auth/policy.
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { Actor, Role } from '../../infra/auth/actor.js';
import { subtreeOf, visibleUsers } from '../../infra/auth/policy.js';

type Sql = PrismaClient | Prisma.TransactionClient;

export interface UserRow {
  id: string; name: string; role: Role; scopeRegionCode: string | null; phone: string | null; email: string | null;
  externalId: string | null; active: boolean; assignmentCount: number; createdAt: Date; updatedAt: Date; deactivatedAt: Date | null;
}
export interface AssignmentRow { centreCode: string; centreName: string; parishCode: string; stateCode: string }

const userColumns = Prisma.sql`
  u.id, u.name, u.role::text AS role, u.scope_region_code AS "scopeRegionCode", u.phone, u.email,
  u.external_id AS "externalId", u.active, u.created_at AS "createdAt", u.updated_at AS "updatedAt",
  u.deactivated_at AS "deactivatedAt",
  (SELECT count(*)::int FROM assignments a WHERE a.user_id = u.id) AS "assignmentCount"`;

export const usersRepository = {
  /** The user if `actor` may see it. */
  async findVisible(db: Sql, actor: Actor, id: string): Promise<UserRow | undefined> {
    const rows = await db.$queryRaw<UserRow[]>`SELECT ${userColumns} FROM users u WHERE u.id = ${id}::uuid AND ${visibleUsers(actor)}`;
    return rows[0];
  },

  /** Of `ids`, those `actor` may see. */
  async visibleIds(db: Sql, actor: Actor, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await db.$queryRaw<{ id: string }[]>`
      SELECT u.id FROM users u WHERE u.id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid) AND ${visibleUsers(actor)}`;
    return new Set(rows.map((row) => row.id));
  },

  async findById(db: Sql, id: string): Promise<UserRow | undefined> {
    const rows = await db.$queryRaw<UserRow[]>`SELECT ${userColumns} FROM users u WHERE u.id = ${id}::uuid`;
    return rows[0];
  },

  async list(
    db: Sql,
    actor: Actor,
    filter: { role?: Role; region?: string; active?: boolean; q?: string; after?: { at: string; id: string }; limit: number },
  ): Promise<UserRow[]> {
    const pattern = filter.q ? `%${filter.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%` : undefined;
    const conditions = [
      visibleUsers(actor),
      filter.role ? Prisma.sql`u.role = ${filter.role}::user_role` : undefined,
      filter.active !== undefined ? Prisma.sql`u.active = ${filter.active}` : undefined,
      filter.region
        ? Prisma.sql`(u.scope_region_code IN (${subtreeOf(filter.region)}) OR EXISTS (
            SELECT 1 FROM assignments a JOIN centres c ON c.code = a.centre_code
            WHERE a.user_id = u.id AND ${filter.region} IN (c.state_code, c.municipality_code, c.parish_code)))`
        : undefined,
      pattern ? Prisma.sql`(u.name ILIKE ${pattern} OR u.external_id ILIKE ${pattern} OR u.phone ILIKE ${pattern} OR u.email ILIKE ${pattern})` : undefined,
      filter.after ? Prisma.sql`(u.created_at, u.id) > (${new Date(filter.after.at)}, ${filter.after.id}::uuid)` : undefined,
    ].filter((condition): condition is Prisma.Sql => condition !== undefined);
    return db.$queryRaw`
      SELECT ${userColumns} FROM users u WHERE ${Prisma.join(conditions, ' AND ')}
      ORDER BY u.created_at, u.id LIMIT ${filter.limit}`;
  },

  async assignments(db: Sql, userId: string): Promise<AssignmentRow[]> {
    return db.$queryRaw`
      SELECT a.centre_code AS "centreCode", c.name AS "centreName", c.parish_code AS "parishCode", c.state_code AS "stateCode"
      FROM assignments a JOIN centres c ON c.code = a.centre_code WHERE a.user_id = ${userId}::uuid ORDER BY a.centre_code`;
  },

  /** Replaces a user's assignments; returns whether anything changed. */
  async replaceAssignments(db: Sql, userId: string, centres: string[]): Promise<boolean> {
    const json = JSON.stringify(centres);
    const removed = await db.$executeRaw`
      DELETE FROM assignments WHERE user_id = ${userId}::uuid
        AND centre_code NOT IN (SELECT jsonb_array_elements_text(${json}::jsonb))`;
    const added = await db.$executeRaw`
      INSERT INTO assignments (user_id, centre_code)
      SELECT ${userId}::uuid, code FROM jsonb_array_elements_text(${json}::jsonb) AS x(code)
      ON CONFLICT DO NOTHING`;
    return removed + added > 0;
  },

  async countActiveAdmins(db: Sql, exceptId?: string): Promise<number> {
    const [row] = await db.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND active ${exceptId ? Prisma.sql`AND id <> ${exceptId}::uuid` : Prisma.empty}`;
    return row?.n ?? 0;
  },

  /** Revokes every live token of a user; returns those it revoked. */
  async revokeTokens(db: Sql, userId: string): Promise<{ id: string; prefix: string }[]> {
    return db.$queryRaw`
      UPDATE api_tokens SET revoked_at = now() WHERE user_id = ${userId}::uuid AND revoked_at IS NULL RETURNING id, prefix`;
  },

  async lockUsers(db: Sql): Promise<void> {
    await db.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('testigo.users'))`;
  },
};
