// Bulk onboarding of observers from a CSV, keyed on the mission's external id: all or nothing, one
// transaction, tokens issued to new observers only (shown once in the response). Re-importing the
// same file changes nothing and issues no token; changed rows update names, contacts and assignments.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { PrismaClient } from '../../generated/prisma/client.js';
import type { Actor, RequestContext } from '../../infra/auth/actor.js';
import { canManage, regionWithin } from '../../infra/auth/policy.js';
import { notifyAccessChanged } from '../../infra/auth/token-cache.js';
import { newToken } from '../../infra/auth/tokens.js';
import { CODE_PATTERN, LineErrors, readCsv } from '../../infra/csv.js';
import { AppError } from '../../infra/errors.js';
import { auditRepository as audit } from '../audit/audit.repository.js';
import { usersRepository as repo } from './users.repository.js';
import type { UsersServiceOptions } from './users.service.js';

const COLUMNS = { required: ['external_id', 'name'], optional: ['phone', 'email', 'scope_region', 'centres'] } as const;
const MAX_ROWS = 20_000;
const phoneSchema = z.string().regex(/^\+?[0-9 ()-]{5,39}$/);
const emailSchema = z.email().max(254);

interface Row { line: number; externalId: string; name: string; phone: string | null; email: string | null; scopeRegion: string | null; centres: string[] }
interface Existing { id: string; role: string; name: string; phone: string | null; email: string | null; scopeRegionCode: string | null; centres: string[] }

function invalid(errors: LineErrors): AppError {
  const first = errors.items[0];
  return new AppError('USERS_CSV_INVALID', `${errors.total} problem${errors.total > 1 ? 's' : ''} in the file; nothing was imported. Line ${first?.line}: ${first?.message}`, {
    errors: errors.items,
    errorCount: errors.total,
  });
}

async function parseRows(input: Readable, errors: LineErrors): Promise<Row[]> {
  const rows: Row[] = [];
  const seen = new Map<string, number>();
  await readCsv(input, COLUMNS, errors, (row) => {
    if (rows.length >= MAX_ROWS) return row.error(`At most ${MAX_ROWS} observers per file`);
    const before = errors.total;
    const externalId = row.text('external_id', 100, true) ?? '';
    if (externalId && !/^[\x21-\x7e]+$/.test(externalId)) row.error('Printable characters without spaces', 'external_id');
    const name = row.text('name', 200, true) ?? '';
    const phone = row.text('phone', 40, false);
    if (phone && !phoneSchema.safeParse(phone).success) row.error(`"${phone}" is not a phone number`, 'phone');
    const email = row.text('email', 254, false);
    if (email && !emailSchema.safeParse(email).success) row.error(`"${email}" is not an email address`, 'email');
    const scopeRegion = row.code('scope_region', false) || null;
    const centres = [...new Set(row.cell('centres').split(/[\s;|]+/).filter(Boolean))];
    for (const code of centres) if (!CODE_PATTERN.test(code)) row.error(`"${code}" is not a centre code`, 'centres');
    if (centres.length > 1000) row.error('At most 1000 centres per observer', 'centres');
    const first = seen.get(externalId);
    if (externalId && first !== undefined) row.error(`external_id ${externalId} repeats line ${first}`, 'external_id');
    seen.set(externalId, row.line);
    if (errors.total === before) rows.push({ line: row.line, externalId, name, phone, email, scopeRegion, centres });
  });
  return rows;
}

export function createUsersImporter(prisma: PrismaClient, options: UsersServiceOptions = {}) {
  return async function importObservers(context: RequestContext & { actor: Actor }, input: Readable) {
    const { actor } = context;
    const errors = new LineErrors();
    const parsed = await parseRows(input, errors);
    if (errors.total > 0) throw invalid(errors);
    const rows = parsed.map((row) => ({ ...row, scopeRegion: row.scopeRegion ?? (actor.role === 'coordinator' ? actor.scopeRegionCode : null) }));

    const changedUsers: string[] = [];
    const result = await prisma.$transaction(
      async (tx) => {
        await repo.lockUsers(tx);
        // Scope regions: known, and inside what the caller may hand out.
        const regionVerdicts = new Map<string, string>();
        for (const region of new Set(rows.map((row) => row.scopeRegion).filter((code): code is string => Boolean(code)))) {
          regionVerdicts.set(region, await regionWithin(tx, region, actor.role === 'admin' ? null : actor.scopeRegionCode));
        }
        // Centres: known, and inside the observer's scope region.
        const centreCodes = [...new Set(rows.flatMap((row) => row.centres))];
        const centreRows = await tx.$queryRaw<{ code: string; regions: string[] }[]>`
          SELECT code, ARRAY[state_code, municipality_code, parish_code] AS regions FROM centres
          WHERE code IN (SELECT jsonb_array_elements_text(${JSON.stringify(centreCodes)}::jsonb))`;
        const centreRegions = new Map(centreRows.map((centre) => [centre.code, centre.regions]));
        // Locked until commit: a role change of one of these users waits for the import, or the import reads it.
        const existingRows = await tx.$queryRaw<(Existing & { externalId: string })[]>`
          SELECT u.id, u.external_id AS "externalId", u.role::text AS role, u.name, u.phone, u.email, u.scope_region_code AS "scopeRegionCode",
                 array(SELECT a.centre_code FROM assignments a WHERE a.user_id = u.id ORDER BY a.centre_code) AS centres
          FROM users u
          WHERE u.external_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(rows.map((row) => row.externalId))}::jsonb))
          FOR UPDATE OF u`;
        const existing = new Map(existingRows.map((user) => [user.externalId, user]));
        const visibleIds = await repo.visibleIds(tx, actor, existingRows.map((user) => user.id));
        for (const row of rows) {
          const verdict = row.scopeRegion ? regionVerdicts.get(row.scopeRegion) : 'inside';
          if (verdict === 'unknown') errors.add(row.line, `Region ${row.scopeRegion} is not in the registry`, 'scope_region');
          if (verdict === 'outside') errors.add(row.line, `Region ${row.scopeRegion} is outside your scope`, 'scope_region');
          for (const code of row.centres) {
            const regions = centreRegions.get(code);
            if (!regions) errors.add(row.line, `Centre ${code} is not in the registry`, 'centres');
            else if (row.scopeRegion && !regions.includes(row.scopeRegion)) errors.add(row.line, `Centre ${code} is outside region ${row.scopeRegion}`, 'centres');
          }
          // The file is of observers: it never turns an admin, coordinator or analyst into one.
          const user = existing.get(row.externalId);
          if (user && visibleIds.has(user.id) && user.role !== 'observer') {
            errors.add(row.line, `external_id ${row.externalId} belongs to a${user.role === 'admin' || user.role === 'analyst' ? 'n' : ''} ${user.role}; the import creates and updates observers only`, 'external_id');
          } else if (user && !visibleIds.has(user.id)) {
            errors.add(row.line, `external_id ${row.externalId} cannot be used; choose another`, 'external_id');
          } else if (user && !canManage(actor, { id: user.id, role: user.role })) {
            errors.add(row.line, `external_id ${row.externalId} belongs to a user you cannot manage`, 'external_id');
          }
        }
        if (errors.total > 0) throw invalid(errors);

        const results: { line: number; externalId: string; id: string; status: 'created' | 'updated' | 'unchanged'; token: string | null }[] = [];
        const created: Record<string, unknown>[] = [];
        const tokens: Record<string, unknown>[] = [];
        const updated: Record<string, unknown>[] = [];
        const assignmentChanges: { id: string; centres: string[] }[] = [];
        const events: Parameters<typeof audit.record>[2] = [];
        for (const row of rows) {
          const user = existing.get(row.externalId);
          const fields = { name: row.name, phone: row.phone, email: row.email, scope_region_code: row.scopeRegion };
          const sortedCentres = [...row.centres].sort();
          if (!user) {
            const id = randomUUID();
            const token = newToken();
            created.push({ id, external_id: row.externalId, ...fields });
            tokens.push({ id: randomUUID(), user_id: id, hash: token.hash, prefix: token.prefix });
            if (row.centres.length > 0) assignmentChanges.push({ id, centres: row.centres });
            events.push({ action: 'user.created', entityType: 'user', entityId: id, details: { via: 'import', externalId: row.externalId, centres: row.centres } });
            results.push({ line: row.line, externalId: row.externalId, id, status: 'created', token: token.secret });
            continue;
          }
          const fieldsChanged = user.name !== row.name || user.phone !== row.phone || user.email !== row.email || user.scopeRegionCode !== row.scopeRegion;
          const centresChanged = JSON.stringify(user.centres) !== JSON.stringify(sortedCentres);
          if (fieldsChanged) updated.push({ id: user.id, ...fields });
          if (centresChanged) assignmentChanges.push({ id: user.id, centres: row.centres });
          if (fieldsChanged || centresChanged) {
            events.push({ action: 'user.updated', entityType: 'user', entityId: user.id, details: { via: 'import', externalId: row.externalId, centres: centresChanged ? row.centres : undefined } });
          }
          results.push({ line: row.line, externalId: row.externalId, id: user.id, status: fieldsChanged || centresChanged ? 'updated' : 'unchanged', token: null });
        }

        if (created.length > 0) {
          await tx.$executeRaw`
            INSERT INTO users (id, external_id, name, phone, email, scope_region_code, role, created_by_id)
            SELECT id, external_id, name, phone, email, scope_region_code, 'observer', ${actor.userId}::uuid
            FROM jsonb_to_recordset(${JSON.stringify(created)}::jsonb)
              AS x(id uuid, external_id text, name text, phone text, email text, scope_region_code text)`;
          await tx.$executeRaw`
            INSERT INTO api_tokens (id, user_id, name, hash, prefix, created_by_id)
            SELECT id, user_id, 'import', hash, prefix, ${actor.userId}::uuid
            FROM jsonb_to_recordset(${JSON.stringify(tokens)}::jsonb) AS x(id uuid, user_id uuid, hash text, prefix text)`;
        }
        if (updated.length > 0) {
          changedUsers.push(...updated.map((user) => String(user.id)));
          await notifyAccessChanged(tx, changedUsers);
          // Observers only, in the statement itself (the rows are locked above; this holds even if they were not).
          const written = await tx.$queryRaw<{ id: string }[]>`
            UPDATE users u SET name = x.name, phone = x.phone, email = x.email, scope_region_code = x.scope_region_code, updated_at = now()
            FROM jsonb_to_recordset(${JSON.stringify(updated)}::jsonb)
              AS x(id uuid, name text, phone text, email text, scope_region_code text)
            WHERE u.id = x.id AND u.role = 'observer'
            RETURNING u.id`;
          if (written.length !== updated.length) {
            const observers = new Set(written.map((user) => user.id));
            for (const row of rows) {
              const user = existing.get(row.externalId);
              if (user && updated.some((change) => change.id === user.id) && !observers.has(user.id)) {
                errors.add(row.line, `external_id ${row.externalId} no longer belongs to an observer; the import creates and updates observers only`, 'external_id');
              }
            }
            throw invalid(errors);
          }
        }
        if (assignmentChanges.length > 0) {
          const ids = JSON.stringify(assignmentChanges.map((change) => change.id));
          const pairs = JSON.stringify(assignmentChanges.flatMap((change) => change.centres.map((centre) => ({ user_id: change.id, centre_code: centre }))));
          await tx.$executeRaw`DELETE FROM assignments WHERE user_id IN (SELECT jsonb_array_elements_text(${ids}::jsonb)::uuid)`;
          await tx.$executeRaw`
            INSERT INTO assignments (user_id, centre_code)
            SELECT user_id, centre_code FROM jsonb_to_recordset(${pairs}::jsonb) AS x(user_id uuid, centre_code text)`;
        }
        const counts = {
          created: results.filter((result) => result.status === 'created').length,
          updated: results.filter((result) => result.status === 'updated').length,
          unchanged: results.filter((result) => result.status === 'unchanged').length,
        };
        for (const token of tokens) {
          events.push({ action: 'token.created', entityType: 'token', entityId: String(token.id), details: { userId: token.user_id, prefix: token.prefix, via: 'import' } });
        }
        events.push({ action: 'users.imported', entityType: 'import', details: { rows: rows.length, ...counts } });
        await audit.record(tx, context, events);
        return { rows: rows.length, ...counts, users: results };
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
    options.accessChanged?.(changedUsers);
    return result;
  };
}

