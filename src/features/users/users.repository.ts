// SQL of users, their tokens and assignments, and the transactions that write them. Visibility and scope
// conditions come from infra/auth/policy.
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { type AuditEvent, auditTrail as audit } from '../../infra/audit.js';
import type { Actor, RequestContext, Role } from '../../infra/auth/actor.js';
import {
  centresWithin,
  inRegion,
  regionVerdict,
  regionWithin,
  subtreeOf,
  visibleUsers,
} from '../../infra/auth/policy.js';
import { notifyAccessChanged } from '../../infra/auth/token-cache.js';
import { repositoryOf, type Db as Sql, type TransactionOptions } from '../../infra/db/client.js';
import { containing } from '../../infra/db/sql.js';

export interface UserRow {
  id: string;
  name: string;
  role: Role;
  scopeRegionCode: string | null;
  phone: string | null;
  email: string | null;
  externalId: string | null;
  active: boolean;
  assignmentCount: number;
  createdAt: Date;
  updatedAt: Date;
  deactivatedAt: Date | null;
}
export interface AssignmentRow {
  centreCode: string;
  centreName: string;
  parishCode: string;
  stateCode: string;
}
export interface TokenRow {
  id: string;
  userId: string;
  name: string | null;
  prefix: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}
export type RegionVerdict = 'inside' | 'outside' | 'unknown';
/** A centre to check against the region it must lie in (null: anywhere); `key` is passed through. */
export interface CentreCheck {
  key: number;
  code: string;
  root: string | null;
}
export interface CentreVerdict {
  key: number;
  code: string;
  known: boolean;
  inside: boolean;
}
export interface UserFields {
  name?: string;
  role?: Role;
  scopeRegionCode?: string | null;
  phone?: string | null;
  email?: string | null;
  externalId?: string | null;
  active?: boolean;
  deactivatedAt?: Date | null;
}

/** What an observer import reads, locked, before deciding (see importObservers). */
export interface ImportFacts {
  regions: Map<string, RegionVerdict>;
  centres: CentreVerdict[];
  /** The users holding the file's external ids, locked until commit. */
  existing: Map<string, ExistingObserver>;
  /** Of those, the ids the actor may see. */
  visibleIds: Set<string>;
}
export interface ExistingObserver {
  id: string;
  externalId: string;
  role: string;
  name: string;
  phone: string | null;
  email: string | null;
  scopeRegionCode: string | null;
  centres: string[];
}
export interface ObserverFields {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  scopeRegionCode: string | null;
}
/** What an import writes once its rows are accepted. */
export interface ImportPlan {
  created: (ObserverFields & { externalId: string })[];
  tokens: { id: string; userId: string; hash: string; prefix: string }[];
  updated: ObserverFields[];
  assignments: { id: string; centres: string[] }[];
  events: AuditEvent[];
  /** The problem to throw (rolling back) when some of `updated` are no longer observers. */
  notObservers(ids: Set<string>): Error;
}

const userColumns = Prisma.sql`
  u.id, u.name, u.role::text AS role, u.scope_region_code AS "scopeRegionCode", u.phone, u.email,
  u.external_id AS "externalId", u.active, u.created_at AS "createdAt", u.updated_at AS "updatedAt",
  u.deactivated_at AS "deactivatedAt",
  (SELECT count(*)::int FROM assignments a WHERE a.user_id = u.id) AS "assignmentCount"`;

const tokenColumns = Prisma.sql`
  t.id, t.user_id AS "userId", t.name, t.prefix, t.expires_at AS "expiresAt", t.revoked_at AS "revokedAt",
  t.last_used_at AS "lastUsedAt", t.created_at AS "createdAt"`;

export const usersRepository = {
  /** The audit entries of a write, in its transaction. */
  async audit(db: Sql, context: RequestContext, events: AuditEvent[]): Promise<void> {
    await audit.record(db, context, events);
  },

  /** Tells every process that these users' access changes when the transaction commits. */
  async accessChanged(db: Sql, userIds: string[]): Promise<void> {
    await notifyAccessChanged(db, userIds);
  },

  /** Whether `region` exists and lies in the subtree of `root` (null: anywhere). */
  async regionWithin(db: Sql, region: string, root: string | null): Promise<RegionVerdict> {
    return regionVerdict(await db.$queryRaw<{ inside: boolean }[]>(regionWithin(region, root)));
  },

  /** Whether each centre exists and lies in its region (policy.centresWithin). */
  async centresWithin(db: Sql, checks: CentreCheck[]): Promise<CentreVerdict[]> {
    if (checks.length === 0) return [];
    return db.$queryRaw<CentreVerdict[]>(centresWithin(JSON.stringify(checks)));
  },

  async holderOfExternalId(db: Sql, externalId: string): Promise<string | undefined> {
    const rows = await db.$queryRaw<{ id: string }[]>`SELECT id FROM users WHERE external_id = ${externalId}`;
    return rows[0]?.id;
  },

  async insertUser(
    db: Sql,
    data: {
      name: string;
      role: Role;
      scopeRegionCode: string | null;
      phone?: string | null;
      email?: string | null;
      externalId?: string | null;
      createdById?: string | null;
    },
  ): Promise<string> {
    const created = await db.user.create({
      data: {
        name: data.name,
        role: data.role,
        scopeRegionCode: data.scopeRegionCode,
        phone: data.phone ?? null,
        email: data.email ?? null,
        externalId: data.externalId ?? null,
        createdById: data.createdById ?? null,
      },
      select: { id: true },
    });
    return created.id;
  },

  /** Writes the given fields (undefined: unchanged) and the update time. */
  async updateUser(db: Sql, id: string, fields: UserFields): Promise<void> {
    await db.user.update({ where: { id }, data: { ...fields, updatedAt: new Date() } });
  },

  async insertToken(
    db: Sql,
    data: {
      userId: string;
      name: string | null;
      hash: string;
      prefix: string;
      expiresAt: Date | null;
      createdById: string | null;
    },
  ): Promise<TokenRow> {
    const { hash: _hash, ...row } = await db.apiToken.create({ data });
    return row;
  },

  async tokens(db: Sql, userId: string): Promise<TokenRow[]> {
    return db.$queryRaw`SELECT ${tokenColumns} FROM api_tokens t WHERE t.user_id = ${userId}::uuid ORDER BY t.created_at`;
  },

  async findToken(db: Sql, id: string): Promise<TokenRow | undefined> {
    const rows = await db.$queryRaw<TokenRow[]>`SELECT ${tokenColumns} FROM api_tokens t WHERE t.id = ${id}::uuid`;
    return rows[0];
  },

  async tokenHashExists(db: Sql, hash: string): Promise<boolean> {
    const rows = await db.$queryRaw<unknown[]>`SELECT 1 FROM api_tokens WHERE hash = ${hash}`;
    return rows.length > 0;
  },

  async revokeToken(db: Sql, id: string): Promise<void> {
    await db.$executeRaw`UPDATE api_tokens SET revoked_at = now() WHERE id = ${id}::uuid`;
  },

  /** The actor holding a live token with this hash (its user active), and when the token expires. */
  async actorByTokenHash(db: Sql, hash: string): Promise<(Actor & { expiresAt: Date | null }) | undefined> {
    const rows = await db.$queryRaw<(Actor & { expiresAt: Date | null })[]>`
      SELECT u.id AS "userId", u.name, u.role::text AS role, u.scope_region_code AS "scopeRegionCode", t.id AS "tokenId",
             t.expires_at AS "expiresAt"
      FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.hash = ${hash} AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.active`;
    return rows[0];
  },

  /** Records when tokens were last used, in one statement (never moving a time back). */
  async recordTokenUse(db: Sql, uses: { id: string; at: string }[]): Promise<void> {
    await db.$executeRaw`
      UPDATE api_tokens t SET last_used_at = x.at
      FROM jsonb_to_recordset(${JSON.stringify(uses)}::jsonb) AS x(id uuid, at timestamptz)
      WHERE t.id = x.id AND (t.last_used_at IS NULL OR t.last_used_at < x.at)`;
  },

  /** The user if `actor` may see it. */
  async findVisible(db: Sql, actor: Actor, id: string): Promise<UserRow | undefined> {
    const rows = await db.$queryRaw<
      UserRow[]
    >`SELECT ${userColumns} FROM users u WHERE u.id = ${id}::uuid AND ${visibleUsers(actor)}`;
    return rows[0];
  },

  /** Of `ids`, those `actor` may see. */
  async visibleIds(db: Sql, actor: Actor, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await db.$queryRaw<{ id: string }[]>`
      SELECT u.id FROM users u
      WHERE u.id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid) AND ${visibleUsers(actor)}`;
    return new Set(rows.map((row) => row.id));
  },

  async findById(db: Sql, id: string): Promise<UserRow | undefined> {
    const rows = await db.$queryRaw<UserRow[]>`SELECT ${userColumns} FROM users u WHERE u.id = ${id}::uuid`;
    return rows[0];
  },

  async list(
    db: Sql,
    actor: Actor,
    filter: {
      role?: Role;
      region?: string;
      active?: boolean;
      q?: string;
      after?: { at: string; id: string };
      limit: number;
    },
  ): Promise<UserRow[]> {
    const pattern = filter.q ? containing(filter.q) : undefined;
    const conditions = [
      visibleUsers(actor),
      filter.role ? Prisma.sql`u.role = ${filter.role}::user_role` : undefined,
      filter.active !== undefined ? Prisma.sql`u.active = ${filter.active}` : undefined,
      filter.region
        ? Prisma.sql`(u.scope_region_code IN (${subtreeOf(filter.region)}) OR EXISTS (
            SELECT 1 FROM assignments a JOIN centres c ON c.code = a.centre_code
            WHERE a.user_id = u.id AND ${inRegion(filter.region)}))`
        : undefined,
      pattern
        ? Prisma.sql`(u.name ILIKE ${pattern} OR u.external_id ILIKE ${pattern} OR u.phone ILIKE ${pattern} OR u.email ILIKE ${pattern})`
        : undefined,
      filter.after
        ? Prisma.sql`(u.created_at, u.id) > (${new Date(filter.after.at)}, ${filter.after.id}::uuid)`
        : undefined,
    ].filter((condition): condition is Prisma.Sql => condition !== undefined);
    return db.$queryRaw`
      SELECT ${userColumns} FROM users u WHERE ${Prisma.join(conditions, ' AND ')}
      ORDER BY u.created_at, u.id LIMIT ${filter.limit}`;
  },

  async assignments(db: Sql, userId: string): Promise<AssignmentRow[]> {
    return db.$queryRaw`
      SELECT a.centre_code AS "centreCode", c.name AS "centreName", c.parish_code AS "parishCode",
             c.state_code AS "stateCode"
      FROM assignments a JOIN centres c ON c.code = a.centre_code
      WHERE a.user_id = ${userId}::uuid ORDER BY a.centre_code`;
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
      SELECT count(*)::int AS n FROM users
      WHERE role = 'admin' AND active ${exceptId ? Prisma.sql`AND id <> ${exceptId}::uuid` : Prisma.empty}`;
    return row?.n ?? 0;
  },

  /** Revokes every live token of a user; returns those it revoked. */
  async revokeTokens(db: Sql, userId: string): Promise<{ id: string; prefix: string }[]> {
    return db.$queryRaw`
      UPDATE api_tokens SET revoked_at = now() WHERE user_id = ${userId}::uuid AND revoked_at IS NULL
      RETURNING id, prefix`;
  },

  async lockUsers(db: Sql): Promise<void> {
    await db.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('testigo.users'))`;
  },
};

/** Users' statements on `prisma`, `transaction(run)`, and the observer import's transaction. */
export function createUsersRepository(prisma: PrismaClient) {
  return {
    ...repositoryOf(prisma, usersRepository),

    /**
     * One observer import, all or nothing: reads what `plan` needs (under the users lock, the file's users
     * locked), lets `plan` decide (it throws to reject the file), then writes the plan: new observers and their
     * tokens, updates of observers only (a user that is no longer one makes `plan.notObservers` reject the file),
     * assignments and audit entries. Returns the plan.
     */
    async importObservers<P extends ImportPlan>(
      context: RequestContext & { actor: Actor },
      file: { regions: string[]; centres: CentreCheck[]; externalIds: string[] },
      plan: (facts: ImportFacts) => P,
      options: TransactionOptions,
    ): Promise<P> {
      const { actor } = context;
      return prisma.$transaction(async (tx) => {
        await usersRepository.lockUsers(tx);
        const regions = new Map<string, RegionVerdict>();
        for (const region of new Set(file.regions)) {
          const root = actor.role === 'admin' ? null : actor.scopeRegionCode;
          regions.set(region, await usersRepository.regionWithin(tx, region, root));
        }
        const centres = await usersRepository.centresWithin(tx, file.centres);
        // Locked until commit: a role change of one of these users waits for the import, or the import reads it.
        const existingRows = await tx.$queryRaw<ExistingObserver[]>`
          SELECT u.id, u.external_id AS "externalId", u.role::text AS role, u.name, u.phone, u.email,
                 u.scope_region_code AS "scopeRegionCode",
                 array(SELECT a.centre_code FROM assignments a WHERE a.user_id = u.id ORDER BY a.centre_code) AS centres
          FROM users u
          WHERE u.external_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(file.externalIds)}::jsonb))
          FOR UPDATE OF u`;
        const existing = new Map(existingRows.map((user) => [user.externalId, user]));
        const visibleIds = await usersRepository.visibleIds(
          tx,
          actor,
          existingRows.map((user) => user.id),
        );
        const decided = plan({ regions, centres, existing, visibleIds });

        const json = (rows: unknown[]) => JSON.stringify(rows);
        if (decided.created.length > 0) {
          await tx.$executeRaw`
            INSERT INTO users (id, external_id, name, phone, email, scope_region_code, role, created_by_id)
            SELECT id, "externalId", name, phone, email, "scopeRegionCode", 'observer', ${actor.userId}::uuid
            FROM jsonb_to_recordset(${json(decided.created)}::jsonb)
              AS x(id uuid, "externalId" text, name text, phone text, email text, "scopeRegionCode" text)`;
          await tx.$executeRaw`
            INSERT INTO api_tokens (id, user_id, name, hash, prefix, created_by_id)
            SELECT id, "userId", 'import', hash, prefix, ${actor.userId}::uuid
            FROM jsonb_to_recordset(${json(decided.tokens)}::jsonb) AS x(id uuid, "userId" uuid, hash text, prefix text)`;
        }
        if (decided.updated.length > 0) {
          await notifyAccessChanged(
            tx,
            decided.updated.map((user) => user.id),
          );
          // Observers only, in the statement itself (the rows are locked above; this holds even if they were not).
          const written = await tx.$queryRaw<{ id: string }[]>`
            UPDATE users u SET name = x.name, phone = x.phone, email = x.email, scope_region_code = x."scopeRegionCode",
                   updated_at = now()
            FROM jsonb_to_recordset(${json(decided.updated)}::jsonb)
              AS x(id uuid, name text, phone text, email text, "scopeRegionCode" text)
            WHERE u.id = x.id AND u.role = 'observer'
            RETURNING u.id`;
          if (written.length !== decided.updated.length) {
            const observers = new Set(written.map((user) => user.id));
            const gone = decided.updated.map((user) => user.id).filter((id) => !observers.has(id));
            throw decided.notObservers(new Set(gone));
          }
        }
        if (decided.assignments.length > 0) {
          const ids = json(decided.assignments.map((change) => change.id));
          const pairs = json(
            decided.assignments.flatMap((change) =>
              change.centres.map((centre) => ({ user_id: change.id, centre_code: centre })),
            ),
          );
          await tx.$executeRaw`
            DELETE FROM assignments WHERE user_id IN (SELECT jsonb_array_elements_text(${ids}::jsonb)::uuid)`;
          await tx.$executeRaw`
            INSERT INTO assignments (user_id, centre_code)
            SELECT user_id, centre_code FROM jsonb_to_recordset(${pairs}::jsonb) AS x(user_id uuid, centre_code text)`;
        }
        await audit.record(tx, context, decided.events);
        return decided;
      }, options);
    },
  };
}
export type UsersRepository = ReturnType<typeof createUsersRepository>;
