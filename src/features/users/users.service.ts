// Users, tokens and assignments: who may do what is decided here with infra/auth/policy, and every write
// is one transaction with its audit entry.
import type { Actor, RequestContext, Role } from '../../infra/auth/actor.js';
import { canManage } from '../../infra/auth/policy.js';
import { hashToken, newToken } from '../../infra/auth/tokens.js';
import type { Database } from '../../infra/db/client.js';
import { translateDatabaseError } from '../../infra/db/errors.js';
import { AppError } from '../../infra/errors.js';
import { pageOf } from '../../infra/http/pagination.js';
import {
  type AssignmentRow,
  createUsersRepository,
  type TokenRow,
  type UserRow,
  type UsersRepository,
} from './users.repository.js';

/** The repository's statements, on the client or inside one of its transactions. */
type Tx = Omit<UsersRepository, 'transaction' | 'importObservers'>;
type ActorContext = RequestContext & { actor: Actor };

const MAX_TOKEN_DAYS = 400;
const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function toUser(row: UserRow) {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    scopeRegion: row.scopeRegionCode,
    phone: row.phone,
    email: row.email,
    externalId: row.externalId,
    active: row.active,
    assignmentCount: row.assignmentCount,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    deactivatedAt: iso(row.deactivatedAt),
  };
}

export function toToken(row: TokenRow) {
  return {
    id: row.id,
    userId: row.userId,
    name: row.name,
    prefix: row.prefix,
    expiresAt: iso(row.expiresAt),
    revokedAt: iso(row.revokedAt),
    lastUsedAt: iso(row.lastUsedAt),
    createdAt: row.createdAt.toISOString(),
  };
}

const notFound = (id: string) => new AppError('NOT_FOUND', `User ${id} does not exist`);

/** Checks that `scopeRegion` exists and lies inside what `actor` may hand out. */
async function checkScopeRegion(db: Tx, actor: Actor, scopeRegion: string): Promise<void> {
  const where = await db.regionWithin(scopeRegion, actor.role === 'admin' ? null : actor.scopeRegionCode);
  if (where === 'unknown') throw new AppError('REGION_UNKNOWN', `Region ${scopeRegion} is not in the registry`);
  if (where === 'outside') throw new AppError('FORBIDDEN', `Region ${scopeRegion} is outside your scope`);
}

/** Checks centres for an observer scoped at `scopeRegion` (null: anywhere). */
export async function checkAssignableCentres(db: Tx, centres: string[], scopeRegion: string | null): Promise<void> {
  const verdicts = await db.centresWithin(centres.map((code) => ({ key: 0, code, root: scopeRegion })));
  const unknown = verdicts.filter((centre) => !centre.known).map((centre) => centre.code);
  const outside = verdicts.filter((centre) => centre.known && !centre.inside).map((centre) => centre.code);
  if (unknown.length + outside.length === 0) return;
  const errors = [
    ...unknown.map((code) => ({
      in: 'body',
      path: 'centres',
      message: `Centre ${code} is not in the registry`,
      centre: code,
    })),
    ...outside.map((code) => ({
      in: 'body',
      path: 'centres',
      message: `Centre ${code} is outside the observer's region ${scopeRegion}`,
      centre: code,
    })),
  ];
  throw new AppError('ASSIGNMENT_INVALID', errors.map((error) => error.message).join('; '), { errors });
}

export interface UsersServiceOptions {
  /** Called after a commit that changed who may use which token (this process's auth cache). */
  accessChanged?: (userIds: string[]) => void;
}

export function createUsersService(prisma: Database['prisma'], options: UsersServiceOptions = {}) {
  const repo = createUsersRepository(prisma);
  const transaction = <T>(run: (tx: Tx) => Promise<T>) => repo.transaction(run);
  /** Runs a write that changes access: NOTIFYs other processes in the transaction, and this one after it. */
  async function changingAccess<T>(userIds: () => string[], run: (tx: Tx) => Promise<T>): Promise<T> {
    const result = await transaction(async (tx) => {
      const value = await run(tx);
      await tx.accessChanged(userIds());
      return value;
    });
    options.accessChanged?.(userIds());
    return result;
  }

  /** The target, if the actor may see it; 404 otherwise (never reveal what is out of scope). */
  async function visible(actor: Actor, id: string, db: Tx = repo): Promise<UserRow> {
    const user = await db.findVisible(actor, id);
    if (!user) throw notFound(id);
    return user;
  }

  async function manageable(actor: Actor, id: string, db: Tx = repo): Promise<UserRow> {
    const user = await visible(actor, id, db);
    if (!canManage(actor, user)) throw new AppError('FORBIDDEN', `You may not manage this ${user.role}`);
    return user;
  }

  /** A taken externalId answers a neutral problem (the translator's); admins, who see every user, are told who holds it. */
  async function naming<T>(actor: Actor, externalId: string | null | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!externalId || actor.role !== 'admin' || translateDatabaseError(error)?.code !== 'USER_EXTERNAL_ID_TAKEN')
        throw error;
      const holder = await repo.holderOfExternalId(externalId);
      throw holder
        ? new AppError('USER_EXTERNAL_ID_TAKEN', `User ${holder} already has externalId ${externalId}`)
        : error;
    }
  }

  async function issueToken(
    tx: Tx,
    context: RequestContext,
    userId: string,
    options: { name?: string | null; expiresAt?: Date | null; secret?: string },
  ) {
    const token = newToken(options.secret);
    const row = await tx.insertToken({
      userId,
      name: options.name ?? null,
      hash: token.hash,
      prefix: token.prefix,
      expiresAt: options.expiresAt ?? null,
      createdById: context.actor?.userId ?? null,
    });
    await tx.audit(context, [
      {
        action: 'token.created',
        entityType: 'token',
        entityId: row.id,
        details: { userId, prefix: token.prefix, expiresAt: iso(row.expiresAt) },
      },
    ]);
    return { ...toToken(row), token: token.secret };
  }

  async function detail(user: UserRow) {
    return { ...toUser(user), assignments: await repo.assignments(user.id) };
  }

  return {
    async create(
      context: ActorContext,
      body: {
        name: string;
        role: Role;
        scopeRegion?: string | null;
        phone?: string | null;
        email?: string | null;
        externalId?: string | null;
        centres?: string[];
      },
    ) {
      const { actor } = context;
      if (actor.role === 'coordinator' && body.role !== 'observer')
        throw new AppError('FORBIDDEN', 'Coordinators create observers only');
      if (body.role === 'admin' && body.scopeRegion)
        throw new AppError('VALIDATION_FAILED', 'Admins have no scope region', {
          errors: [{ in: 'body', path: 'scopeRegion', message: 'admins act nationally' }],
        });
      if (body.role === 'coordinator' && !body.scopeRegion)
        throw new AppError('VALIDATION_FAILED', 'A coordinator needs a scope region', {
          errors: [{ in: 'body', path: 'scopeRegion', message: 'required for coordinators' }],
        });
      if (body.centres?.length && body.role !== 'observer')
        throw new AppError('USER_NOT_OBSERVER', 'Only observers have centre assignments');
      // A coordinator's observers live inside the coordinator's region unless placed deeper.
      const scopeRegion = body.scopeRegion ?? (actor.role === 'coordinator' ? actor.scopeRegionCode : null);
      return naming(actor, body.externalId, () =>
        transaction(async (tx) => {
          if (scopeRegion) await checkScopeRegion(tx, actor, scopeRegion);
          if (body.centres?.length) await checkAssignableCentres(tx, body.centres, scopeRegion);
          const id = await tx.insertUser({
            name: body.name,
            role: body.role,
            scopeRegionCode: scopeRegion,
            phone: body.phone,
            email: body.email,
            externalId: body.externalId,
            createdById: actor.userId,
          });
          if (body.centres?.length) await tx.replaceAssignments(id, body.centres);
          await tx.audit(context, [
            {
              action: 'user.created',
              entityType: 'user',
              entityId: id,
              details: {
                role: body.role,
                scopeRegion,
                externalId: body.externalId ?? null,
                centres: body.centres ?? [],
              },
            },
          ]);
          return { ...toUser((await tx.findById(id))!), assignments: await tx.assignments(id) };
        }),
      );
    },

    async list(actor: Actor, filter: Parameters<typeof repo.list>[1]) {
      if (filter.region && (await repo.regionWithin(filter.region, null)) === 'unknown') {
        throw new AppError('NOT_FOUND', `Region ${filter.region} does not exist`);
      }
      const page = pageOf(await repo.list(actor, { ...filter, limit: filter.limit + 1 }), filter.limit, (last) => ({
        at: last.createdAt.toISOString(),
        id: last.id,
      }));
      return { items: page.items.map(toUser), next: page.next };
    },

    async get(actor: Actor, id: string) {
      return detail(await visible(actor, id));
    },

    async update(
      context: ActorContext,
      id: string,
      body: {
        name?: string;
        role?: Role;
        scopeRegion?: string | null;
        phone?: string | null;
        email?: string | null;
        externalId?: string | null;
        active?: boolean;
      },
    ) {
      const { actor } = context;
      return naming(actor, body.externalId, () =>
        changingAccess(
          () => [id],
          async (tx) => {
            await tx.lockUsers();
            const user = await manageable(actor, id, tx);
            if (body.role !== undefined && body.role !== user.role && actor.role !== 'admin')
              throw new AppError('FORBIDDEN', 'Only admins change roles');
            const role = body.role ?? user.role;
            const scopeRegion = body.scopeRegion === undefined ? user.scopeRegionCode : body.scopeRegion;
            if (body.scopeRegion !== undefined && body.scopeRegion !== null)
              await checkScopeRegion(tx, actor, body.scopeRegion);
            if (actor.role === 'coordinator' && scopeRegion === null)
              throw new AppError('FORBIDDEN', 'Coordinators keep their observers inside their region');
            if (role === 'admin' && scopeRegion)
              throw new AppError('VALIDATION_FAILED', 'Admins have no scope region', {
                errors: [{ in: 'body', path: 'scopeRegion', message: 'admins act nationally' }],
              });
            if (role === 'coordinator' && !scopeRegion)
              throw new AppError('VALIDATION_FAILED', 'A coordinator needs a scope region', {
                errors: [{ in: 'body', path: 'scopeRegion', message: 'required for coordinators' }],
              });
            if (role !== 'observer' && user.assignmentCount > 0)
              throw new AppError('USER_NOT_OBSERVER', "Clear the assignments before changing an observer's role");
            if (role === 'observer' && scopeRegion && user.assignmentCount > 0) {
              await checkAssignableCentres(
                tx,
                (await tx.assignments(id)).map((a) => a.centreCode),
                scopeRegion,
              );
            }
            const losesAdmin = user.role === 'admin' && (role !== 'admin' || body.active === false);
            if (losesAdmin && user.active && (await tx.countActiveAdmins(id)) === 0)
              throw new AppError('USER_LAST_ADMIN', 'The last active admin must stay an active admin');
            const changes: Record<string, unknown> = {};
            for (const [key, value] of Object.entries(body)) {
              const current = {
                name: user.name,
                role: user.role,
                scopeRegion: user.scopeRegionCode,
                phone: user.phone,
                email: user.email,
                externalId: user.externalId,
                active: user.active,
              }[key];
              if (value !== current) changes[key] = { from: current, to: value };
            }
            if (Object.keys(changes).length === 0) return detail(user);
            await tx.updateUser(id, {
              name: body.name,
              role: body.role,
              scopeRegionCode: body.scopeRegion,
              phone: body.phone,
              email: body.email,
              externalId: body.externalId,
              active: body.active,
              ...(body.active === false && user.active ? { deactivatedAt: new Date() } : {}),
              ...(body.active === true && !user.active ? { deactivatedAt: null } : {}),
            });
            const action =
              body.active === false && user.active
                ? 'user.deactivated'
                : body.active === true && !user.active
                  ? 'user.reactivated'
                  : 'user.updated';
            // Deactivation ends every token for good: reactivating the user needs new tokens.
            const revoked = action === 'user.deactivated' ? await tx.revokeTokens(id) : [];
            await tx.audit(context, [
              { action, entityType: 'user', entityId: id, details: { changes } },
              ...revoked.map((token) => ({
                action: 'token.revoked',
                entityType: 'token',
                entityId: token.id,
                details: { userId: id, prefix: token.prefix, via: 'user.deactivated' },
              })),
            ]);
            return { ...toUser((await tx.findById(id))!), assignments: await tx.assignments(id) };
          },
        ),
      );
    },

    async createToken(context: ActorContext, userId: string, body: { name?: string; expiresAt?: string }) {
      const expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
      if (
        expiresAt &&
        (expiresAt.getTime() <= Date.now() || expiresAt.getTime() > Date.now() + MAX_TOKEN_DAYS * 86_400_000)
      ) {
        throw new AppError(
          'TOKEN_EXPIRY_INVALID',
          `expiresAt must be in the future and at most ${MAX_TOKEN_DAYS} days ahead`,
        );
      }
      return transaction(async (tx) => {
        const user = await manageable(context.actor, userId, tx);
        return issueToken(tx, context, user.id, { name: body.name, expiresAt });
      });
    },

    async listTokens(actor: Actor, userId: string) {
      const user = await visible(actor, userId);
      if (user.id !== actor.userId && !canManage(actor, user))
        throw new AppError('FORBIDDEN', `You may not see this ${user.role}'s tokens`);
      const rows = await repo.tokens(userId);
      return rows.map(toToken);
    },

    /** Revokes a token of the caller's own, or of a user the caller manages; revoking twice is a no-op. */
    async revokeToken(context: ActorContext, tokenId: string): Promise<void> {
      let ownerId = '';
      await changingAccess(
        () => (ownerId ? [ownerId] : []),
        async (tx) => {
          const token = await tx.findToken(tokenId);
          const owner = token && (await tx.findVisible(context.actor, token.userId));
          if (!token || !owner) throw new AppError('NOT_FOUND', `Token ${tokenId} does not exist`);
          if (owner.id !== context.actor.userId && !canManage(context.actor, owner))
            throw new AppError('FORBIDDEN', 'You may not revoke this token');
          if (token.revokedAt) return;
          ownerId = owner.id;
          await tx.revokeToken(tokenId);
          await tx.audit(context, [
            {
              action: 'token.revoked',
              entityType: 'token',
              entityId: tokenId,
              details: { userId: owner.id, prefix: token.prefix },
            },
          ]);
        },
      );
    },

    async replaceAssignments(
      context: ActorContext,
      userId: string,
      centres: string[],
    ): Promise<{ userId: string; assignments: AssignmentRow[] }> {
      return transaction(async (tx) => {
        const user = await manageable(context.actor, userId, tx);
        if (user.role !== 'observer') throw new AppError('USER_NOT_OBSERVER', 'Only observers have centre assignments');
        await checkAssignableCentres(tx, centres, user.scopeRegionCode);
        if (await tx.replaceAssignments(userId, centres)) {
          await tx.audit(context, [
            { action: 'assignments.replaced', entityType: 'user', entityId: userId, details: { centres } },
          ]);
        }
        return { userId, assignments: await tx.assignments(userId) };
      });
    },

    async me(actor: Actor) {
      const user = await repo.findById(actor.userId);
      const token = await repo.findToken(actor.tokenId);
      if (!user || !token) throw new AppError('AUTH_INVALID_TOKEN', 'The token is no longer valid');
      const { userId: _userId, ...tokenView } = toToken(token);
      return { ...(await detail(user)), token: tokenView };
    },

    /** Creates a user with a first token, for the CLI and the ADMIN_TOKEN bootstrap. */
    async createWithToken(
      context: RequestContext,
      data: { name: string; role: Role; scopeRegion?: string | null; secret?: string },
    ) {
      return transaction(async (tx) => {
        const id = await tx.insertUser({ name: data.name, role: data.role, scopeRegionCode: data.scopeRegion ?? null });
        await tx.audit(context, [
          { action: 'user.created', entityType: 'user', entityId: id, details: { role: data.role } },
        ]);
        const token = await issueToken(tx, context, id, { name: 'cli', secret: data.secret });
        return { user: toUser((await tx.findById(id))!), token };
      });
    },

    /** With ADMIN_TOKEN set and no active admin, creates one holding that token (once, across processes). */
    async bootstrapAdmin(context: RequestContext, secret: string): Promise<'created' | 'exists'> {
      return transaction(async (tx) => {
        await tx.lockUsers();
        if ((await tx.countActiveAdmins()) > 0) return 'exists';
        if (await tx.tokenHashExists(hashToken(secret))) return 'exists';
        const id = await tx.insertUser({ name: 'Administrator', role: 'admin', scopeRegionCode: null });
        await tx.audit(context, [
          { action: 'user.bootstrapped', entityType: 'user', entityId: id, details: { via: 'ADMIN_TOKEN' } },
        ]);
        await issueToken(tx, context, id, { name: 'ADMIN_TOKEN', secret });
        return 'created';
      });
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
