// Bulk onboarding of observers from a CSV, keyed on the mission's external id: all or nothing, one
// transaction, tokens issued to new observers only (shown once in the response). Re-importing the
// same file changes nothing and issues no token; changed rows update names, contacts and assignments.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { Actor, RequestContext } from '../../infra/auth/actor.js';
import { canManage } from '../../infra/auth/policy.js';
import { newToken } from '../../infra/auth/tokens.js';
import { CODE_PATTERN, LineErrors, readCsv } from '../../infra/csv.js';
import type { Database } from '../../infra/db/client.js';
import { createUsersRepository, type ImportFacts, type ImportPlan } from './users.repository.js';
import type { UsersServiceOptions } from './users.service.js';

const COLUMNS = { required: ['external_id', 'name'], optional: ['phone', 'email', 'scope_region', 'centres'] } as const;
const MAX_ROWS = 20_000;
const phoneSchema = z.string().regex(/^\+?[0-9 ()-]{5,39}$/);
const emailSchema = z.email().max(254);

interface Row {
  line: number;
  externalId: string;
  name: string;
  phone: string | null;
  email: string | null;
  scopeRegion: string | null;
  centres: string[];
}
type Status = 'created' | 'updated' | 'unchanged';
interface ImportResult {
  line: number;
  externalId: string;
  id: string;
  status: Status;
  token: string | null;
}

async function parseRows(input: Readable, errors: LineErrors): Promise<Row[]> {
  const rows: Row[] = [];
  const seen = new Map<string, number>();
  await readCsv(input, COLUMNS, errors, (row) => {
    if (rows.length >= MAX_ROWS) return row.error(`At most ${MAX_ROWS} observers per file`);
    const before = errors.total;
    const externalId = row.text('external_id', 100, true) ?? '';
    if (externalId && !/^[\x21-\x7e]+$/.test(externalId))
      row.error('Printable characters without spaces', 'external_id');
    const name = row.text('name', 200, true) ?? '';
    const phone = row.text('phone', 40, false);
    if (phone && !phoneSchema.safeParse(phone).success) row.error(`"${phone}" is not a phone number`, 'phone');
    const email = row.text('email', 254, false);
    if (email && !emailSchema.safeParse(email).success) row.error(`"${email}" is not an email address`, 'email');
    const scopeRegion = row.code('scope_region', false) || null;
    const centres = [
      ...new Set(
        row
          .cell('centres')
          .split(/[\s;|]+/)
          .filter(Boolean),
      ),
    ];
    for (const code of centres) if (!CODE_PATTERN.test(code)) row.error(`"${code}" is not a centre code`, 'centres');
    if (centres.length > 1000) row.error('At most 1000 centres per observer', 'centres');
    const first = seen.get(externalId);
    if (externalId && first !== undefined) row.error(`external_id ${externalId} repeats line ${first}`, 'external_id');
    seen.set(externalId, row.line);
    if (errors.total === before) rows.push({ line: row.line, externalId, name, phone, email, scopeRegion, centres });
  });
  return rows;
}

/** The rules of an import, on what the repository read: the file's problems (thrown), or what to write. */
type Plan = ImportPlan & { results: ImportResult[] };

function planImport(actor: Actor, rows: Row[], facts: ImportFacts, errors: LineErrors): Plan {
  const centreVerdicts = new Map(facts.centres.map((centre) => [`${centre.key} ${centre.code}`, centre]));
  for (const row of rows) {
    const verdict = row.scopeRegion ? facts.regions.get(row.scopeRegion) : 'inside';
    if (verdict === 'unknown') errors.add(row.line, `Region ${row.scopeRegion} is not in the registry`, 'scope_region');
    if (verdict === 'outside') errors.add(row.line, `Region ${row.scopeRegion} is outside your scope`, 'scope_region');
    for (const code of row.centres) {
      const centre = centreVerdicts.get(`${row.line} ${code}`);
      if (!centre?.known) errors.add(row.line, `Centre ${code} is not in the registry`, 'centres');
      else if (!centre.inside) errors.add(row.line, `Centre ${code} is outside region ${row.scopeRegion}`, 'centres');
    }
    // The file is of observers: it never turns an admin, coordinator or analyst into one.
    const user = facts.existing.get(row.externalId);
    if (user && facts.visibleIds.has(user.id) && user.role !== 'observer') {
      const article = user.role === 'admin' || user.role === 'analyst' ? 'an' : 'a';
      const message = `external_id ${row.externalId} belongs to ${article} ${user.role}; the import creates and updates observers only`;
      errors.add(row.line, message, 'external_id');
    } else if (user && !facts.visibleIds.has(user.id)) {
      errors.add(row.line, `external_id ${row.externalId} cannot be used; choose another`, 'external_id');
    } else if (user && !canManage(actor, { id: user.id, role: user.role })) {
      errors.add(row.line, `external_id ${row.externalId} belongs to a user you cannot manage`, 'external_id');
    }
  }
  if (errors.total > 0) throw errors.problem('USERS_CSV_INVALID');

  const plan: Plan = {
    created: [],
    tokens: [],
    updated: [],
    assignments: [],
    events: [],
    results: [],
    notObservers(ids) {
      for (const row of rows) {
        const user = facts.existing.get(row.externalId);
        if (user && ids.has(user.id)) {
          const message = `external_id ${row.externalId} no longer belongs to an observer; the import creates and updates observers only`;
          errors.add(row.line, message, 'external_id');
        }
      }
      return errors.problem('USERS_CSV_INVALID');
    },
  };
  for (const row of rows) {
    const user = facts.existing.get(row.externalId);
    const fields = { name: row.name, phone: row.phone, email: row.email, scopeRegionCode: row.scopeRegion };
    if (!user) {
      const id = randomUUID();
      const token = newToken();
      plan.created.push({ id, externalId: row.externalId, ...fields });
      plan.tokens.push({ id: randomUUID(), userId: id, hash: token.hash, prefix: token.prefix });
      if (row.centres.length > 0) plan.assignments.push({ id, centres: row.centres });
      const details = { via: 'import', externalId: row.externalId, centres: row.centres };
      plan.events.push({ action: 'user.created', entityType: 'user', entityId: id, details });
      plan.results.push({ line: row.line, externalId: row.externalId, id, status: 'created', token: token.secret });
      continue;
    }
    const fieldsChanged =
      user.name !== row.name ||
      user.phone !== row.phone ||
      user.email !== row.email ||
      user.scopeRegionCode !== row.scopeRegion;
    const centresChanged = JSON.stringify(user.centres) !== JSON.stringify([...row.centres].sort());
    if (fieldsChanged) plan.updated.push({ id: user.id, ...fields });
    if (centresChanged) plan.assignments.push({ id: user.id, centres: row.centres });
    if (fieldsChanged || centresChanged) {
      const details = { via: 'import', externalId: row.externalId, centres: centresChanged ? row.centres : undefined };
      plan.events.push({ action: 'user.updated', entityType: 'user', entityId: user.id, details });
    }
    const status = fieldsChanged || centresChanged ? 'updated' : 'unchanged';
    plan.results.push({ line: row.line, externalId: row.externalId, id: user.id, status, token: null });
  }
  for (const token of plan.tokens) {
    const details = { userId: token.userId, prefix: token.prefix, via: 'import' };
    plan.events.push({ action: 'token.created', entityType: 'token', entityId: token.id, details });
  }
  const counts = countOf(plan.results);
  plan.events.push({ action: 'users.imported', entityType: 'import', details: { rows: rows.length, ...counts } });
  return plan;
}

const countOf = (results: ImportResult[]) => ({
  created: results.filter((result) => result.status === 'created').length,
  updated: results.filter((result) => result.status === 'updated').length,
  unchanged: results.filter((result) => result.status === 'unchanged').length,
});

export function createUsersImporter(prisma: Database['prisma'], options: UsersServiceOptions = {}) {
  const repo = createUsersRepository(prisma);
  return async function importObservers(context: RequestContext & { actor: Actor }, input: Readable) {
    const { actor } = context;
    const errors = new LineErrors();
    const parsed = await parseRows(input, errors);
    if (errors.total > 0) throw errors.problem('USERS_CSV_INVALID');
    const rows = parsed.map((row) => ({
      ...row,
      scopeRegion: row.scopeRegion ?? (actor.role === 'coordinator' ? actor.scopeRegionCode : null),
    }));
    const file = {
      // Scope regions: known, and inside what the caller may hand out; centres: known, and inside the observer's
      // region (policy.centresWithin).
      regions: rows.map((row) => row.scopeRegion).filter((code): code is string => Boolean(code)),
      centres: rows.flatMap((row) => row.centres.map((code) => ({ key: row.line, code, root: row.scopeRegion }))),
      externalIds: rows.map((row) => row.externalId),
    };
    const decide = (facts: ImportFacts) => planImport(actor, rows, facts, errors);
    const plan = await repo.importObservers(context, file, decide, { timeout: 120_000, maxWait: 30_000 });
    options.accessChanged?.(plan.updated.map((user) => user.id));
    return { rows: rows.length, ...countOf(plan.results), users: plan.results };
  };
}
