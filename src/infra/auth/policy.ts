// The scope rules, in one place: which regions, centres and users an actor reaches. Roles are checked by
// the auth hook; services call these for everything that depends on the region tree.
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { Actor } from './actor.js';

type Sql = PrismaClient | Prisma.TransactionClient;

/** The codes of `root` and every region below it (the tree has three levels). */
export const subtreeOf = (root: string): Prisma.Sql =>
  Prisma.sql`SELECT r.code FROM regions r LEFT JOIN regions p ON p.code = r.parent_code
             WHERE r.code = ${root} OR r.parent_code = ${root} OR p.parent_code = ${root}`;

/** Users the actor may see: admins all; coordinators themselves and users scoped inside their subtree; others themselves. */
export function visibleUsers(actor: Actor, alias = Prisma.raw('u')): Prisma.Sql {
  if (actor.role === 'admin') return Prisma.sql`TRUE`;
  if (actor.role === 'coordinator' && actor.scopeRegionCode) {
    return Prisma.sql`(${alias}.id = ${actor.userId}::uuid OR ${alias}.scope_region_code IN (${subtreeOf(actor.scopeRegionCode)}))`;
  }
  return Prisma.sql`${alias}.id = ${actor.userId}::uuid`;
}

/** May `actor` change `target` (its data, tokens, assignments)? Admins anyone; coordinators observers they see. */
export function canManage(actor: Actor, target: { id: string; role: string }): boolean {
  if (actor.role === 'admin') return true;
  return actor.role === 'coordinator' && target.role === 'observer' && target.id !== actor.userId;
}

/** Whether `region` exists and lies in the subtree of `root` (any region when root is null). */
export async function regionWithin(db: Sql, region: string, root: string | null): Promise<'inside' | 'outside' | 'unknown'> {
  const rows = await db.$queryRaw<{ inside: boolean }[]>`
    SELECT ${root === null ? Prisma.sql`TRUE` : Prisma.sql`r.code IN (${subtreeOf(root)})`} AS inside FROM regions r WHERE r.code = ${region}`;
  if (rows.length === 0) return 'unknown';
  return rows[0]!.inside ? 'inside' : 'outside';
}

/** Of `codes`, those not in the registry and those outside the subtree of `root` (none when root is null). */
export async function checkCentres(db: Sql, codes: string[], root: string | null): Promise<{ unknown: string[]; outside: string[] }> {
  if (codes.length === 0) return { unknown: [], outside: [] };
  const rows = await db.$queryRaw<{ code: string; inside: boolean }[]>`
    SELECT c.code, ${root === null ? Prisma.sql`TRUE` : Prisma.sql`${root} IN (c.state_code, c.municipality_code, c.parish_code)`} AS inside
    FROM centres c WHERE c.code IN (SELECT jsonb_array_elements_text(${JSON.stringify(codes)}::jsonb))`;
  const found = new Map(rows.map((row) => [row.code, row.inside]));
  return {
    unknown: codes.filter((code) => !found.has(code)),
    outside: codes.filter((code) => found.get(code) === false),
  };
}

/** Reports the actor may read: admins and national analysts all; observers their own; others their subtree. */
export function visibleReports(actor: Actor, alias = Prisma.raw('r')): Prisma.Sql {
  if (actor.role === 'observer') return Prisma.sql`${alias}.observer_id = ${actor.userId}::uuid`;
  if (actor.role === 'admin' || actor.scopeRegionCode === null) return Prisma.sql`TRUE`;
  return Prisma.sql`${actor.scopeRegionCode} IN (${alias}.state_code, ${alias}.municipality_code, ${alias}.parish_code)`;
}

/** visibleReports for one report already read: whether `actor` may read it. */
export function mayReadReport(actor: Actor, report: { observerId: string; stateCode: string; municipalityCode: string; parishCode: string }): boolean {
  if (actor.role === 'observer') return report.observerId === actor.userId;
  return centreInScope(actor, report);
}

/** Who may modify a report (revise it, attach photos to it): its author, or a coordinator or admin in scope. */
export function mayModifyReport(actor: Actor, report: { observerId: string; stateCode: string; municipalityCode: string; parishCode: string }): boolean {
  return actor.role !== 'analyst' && mayReadReport(actor, report);
}

/** Whether a centre with these region codes lies in the actor's region (everywhere for admins and national roles). */
export function centreInScope(actor: Actor, centre: { stateCode: string; municipalityCode: string; parishCode: string }): boolean {
  if (actor.role === 'admin' || actor.scopeRegionCode === null) return true;
  return [centre.stateCode, centre.municipalityCode, centre.parishCode].includes(actor.scopeRegionCode);
}

/** Reviewers: admins and coordinators (each on the reports they may read). Flags meant for review, such as a
 * photo's same_image_other_table (which tells that the image exists elsewhere), are shown to them only. */
export function isReviewer(actor: Actor): boolean {
  return actor.role === 'admin' || actor.role === 'coordinator';
}
