// The scope rules, in one place: which regions, centres and users an actor reaches. Roles are checked by
// the auth hook; services call the rules on rows, repositories put the SQL fragments into their statements
// (this module builds SQL but runs none).
import { Prisma } from '../../generated/prisma/client.js';
import type { Actor } from './actor.js';

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

/**
 * Whether the row `alias` (a centre, a report: anything with the three region codes) lies in region `root`.
 * A null root is everywhere; so is a root given as SQL (a column) that holds NULL.
 */
export function inRegion(root: string | null | Prisma.Sql, alias = Prisma.raw('c')): Prisma.Sql {
  if (root === null) return Prisma.sql`TRUE`;
  const inside = Prisma.sql`${root} IN (${alias}.state_code, ${alias}.municipality_code, ${alias}.parish_code)`;
  return typeof root === 'string' ? inside : Prisma.sql`(${root} IS NULL OR ${inside})`;
}

/** One row `{ inside }` if `region` exists: whether it lies in the subtree of `root` (any region when root is null). */
export const regionWithin = (region: string, root: string | null): Prisma.Sql => Prisma.sql`
  SELECT ${root === null ? Prisma.sql`TRUE` : Prisma.sql`r.code IN (${subtreeOf(root)})`} AS inside
  FROM regions r WHERE r.code = ${region}`;

/** The verdict of regionWithin's rows. */
export const regionVerdict = (rows: { inside: boolean }[]): 'inside' | 'outside' | 'unknown' =>
  rows[0] === undefined ? 'unknown' : rows[0].inside ? 'inside' : 'outside';

/**
 * Of the centres in `pairs` (a centre code and the region it must lie in, null: anywhere; as a JSON array of
 * `{ code, root }`), a row `{ key, code, known, inside }` each, `key` passed through.
 */
export const centresWithin = (pairs: string): Prisma.Sql => Prisma.sql`
  SELECT x.key, x.code, c.code IS NOT NULL AS known, coalesce(${inRegion(Prisma.raw('x.root'))}, FALSE) AS inside
  FROM jsonb_to_recordset(${pairs}::jsonb) AS x(key int, code text, root text) LEFT JOIN centres c ON c.code = x.code`;

/** Reports the actor may read: admins and national analysts all; observers their own; others their subtree. */
export function visibleReports(actor: Actor, alias = Prisma.raw('r')): Prisma.Sql {
  if (actor.role === 'observer') return Prisma.sql`${alias}.observer_id = ${actor.userId}::uuid`;
  if (actor.role === 'admin' || actor.scopeRegionCode === null) return Prisma.sql`TRUE`;
  return inRegion(actor.scopeRegionCode, alias);
}

/** visibleReports for one report already read: whether `actor` may read it. */
export function mayReadReport(
  actor: Actor,
  report: { observerId: string; stateCode: string; municipalityCode: string; parishCode: string },
): boolean {
  if (actor.role === 'observer') return report.observerId === actor.userId;
  return centreInScope(actor, report);
}

/** Who may modify a report (revise it, attach photos to it): its author, or a coordinator or admin in scope. */
export function mayModifyReport(
  actor: Actor,
  report: { observerId: string; stateCode: string; municipalityCode: string; parishCode: string },
): boolean {
  return actor.role !== 'analyst' && mayReadReport(actor, report);
}

/** Whether a centre with these region codes lies in the actor's region (everywhere for admins and national roles). */
export function centreInScope(
  actor: Actor,
  centre: { stateCode: string; municipalityCode: string; parishCode: string },
): boolean {
  if (actor.role === 'admin' || actor.scopeRegionCode === null) return true;
  return [centre.stateCode, centre.municipalityCode, centre.parishCode].includes(actor.scopeRegionCode);
}

/** Reviewers: admins and coordinators (each on the reports they may read). Flags meant for review, such as a
 * photo's same_image_other_table (which tells that the image exists elsewhere), are shown to them only. */
export function isReviewer(actor: Actor): boolean {
  return actor.role === 'admin' || actor.role === 'coordinator';
}
