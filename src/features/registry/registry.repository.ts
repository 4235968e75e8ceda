// SQL of the registry: set-based upserts for imports and aggregate reads for regions and centres.
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { type AuditEvent, auditTrail as audit } from '../../infra/audit.js';
import type { RequestContext } from '../../infra/auth/actor.js';
import { repositoryOf, type Db as Sql } from '../../infra/db/client.js';
import { containing } from '../../infra/db/sql.js';
import type { DraftCentre, DraftRegion, DraftTable, Level } from './registry.csv.js';

export interface UpsertCounts {
  created: number;
  updated: number;
  unchanged: number;
}
export interface RegionRow {
  code: string;
  name: string;
  level: Level;
  parentCode: string | null;
  centres: number;
  tables: number;
  registeredVoters: number;
}
export interface CentreRow {
  code: string;
  name: string;
  address: string | null;
  latitude: number | null;
  longitude: number | null;
  parishCode: string;
  municipalityCode: string;
  stateCode: string;
  tableCount: number;
  registeredVoters: number;
}

const CHUNK = 5000;
const chunks = <T>(items: T[]): T[][] =>
  Array.from({ length: Math.ceil(items.length / CHUNK) }, (_, i) => items.slice(i * CHUNK, (i + 1) * CHUNK));

async function countUpserts(
  rows: unknown[],
  run: (json: string) => Promise<{ created: number; updated: number }[]>,
): Promise<UpsertCounts> {
  const total: UpsertCounts = { created: 0, updated: 0, unchanged: 0 };
  for (const chunk of chunks(rows)) {
    const [counts] = await run(JSON.stringify(chunk));
    total.created += counts?.created ?? 0;
    total.updated += counts?.updated ?? 0;
    total.unchanged += chunk.length - (counts?.created ?? 0) - (counts?.updated ?? 0);
  }
  return total;
}

export const registryRepository = {
  /** The audit entries of a write, in its transaction. */
  async audit(tx: Sql, context: RequestContext, events: AuditEvent[]): Promise<void> {
    await audit.record(tx, context, events);
  },

  /** Serialises imports across every API process. */
  async lockImports(tx: Sql): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('testigo.registry.import'))`;
  },

  /** Rewrites the centres, tables and voters per region that summaries read (the migration's SQL function). */
  async refreshSummaryRegistry(tx: Sql): Promise<void> {
    await tx.$queryRaw`SELECT testigo_summary_registry_refresh()::text`;
  },

  async existingRegions(
    tx: Sql,
    codes: string[],
  ): Promise<{ code: string; level: Level; parentCode: string | null }[]> {
    return tx.$queryRaw`
      SELECT code, level::text AS level, parent_code AS "parentCode" FROM regions
      WHERE code IN (SELECT jsonb_array_elements_text(${JSON.stringify(codes)}::jsonb))`;
  },

  async existingCentres(tx: Sql, codes: string[]): Promise<{ code: string; parishCode: string }[]> {
    return tx.$queryRaw`
      SELECT code, parish_code AS "parishCode" FROM centres
      WHERE code IN (SELECT jsonb_array_elements_text(${JSON.stringify(codes)}::jsonb))`;
  },

  /** Codes that a region and a centre would share across the two tables. */
  async codesTakenByOtherKind(tx: Sql, regionCodes: string[], centreCodes: string[]): Promise<string[]> {
    const rows = await tx.$queryRaw<{ code: string }[]>`
      SELECT code FROM centres WHERE code IN (SELECT jsonb_array_elements_text(${JSON.stringify(regionCodes)}::jsonb))
      UNION
      SELECT code FROM regions WHERE code IN (SELECT jsonb_array_elements_text(${JSON.stringify(centreCodes)}::jsonb))`;
    return rows.map((row) => row.code);
  },

  async upsertRegions(tx: Sql, regions: DraftRegion[]): Promise<UpsertCounts> {
    const rows = regions.map(({ code, name, level, parentCode }) => ({ code, name, level, parent_code: parentCode }));
    return countUpserts(
      rows,
      (json) => tx.$queryRaw`
      WITH upserted AS (
        INSERT INTO regions (code, name, level, parent_code)
        SELECT code, name, level::region_level, parent_code
        FROM jsonb_to_recordset(${json}::jsonb) AS x(code text, name text, level text, parent_code text)
        ON CONFLICT (code) DO UPDATE SET name = excluded.name, updated_at = now()
        WHERE regions.name IS DISTINCT FROM excluded.name
        RETURNING (xmax = 0) AS inserted)
      SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM upserted`,
    );
  },

  /** Columns absent from the file (address, coordinates) keep their stored values. */
  async upsertCentres(
    tx: Sql,
    centres: DraftCentre[],
    columns: { address: boolean; coordinates: boolean },
  ): Promise<UpsertCounts> {
    const rows = centres.map((c) => ({
      code: c.code,
      name: c.name,
      address: c.address,
      latitude: c.latitude,
      longitude: c.longitude,
      parish_code: c.parishCode,
      municipality_code: c.municipalityCode,
      state_code: c.stateCode,
    }));
    return countUpserts(
      rows,
      (json) => tx.$queryRaw`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${json}::jsonb) AS x(code text, name text, address text, latitude float8, longitude float8,
          parish_code text, municipality_code text, state_code text)),
      upserted AS (
        INSERT INTO centres AS c (code, name, address, latitude, longitude, parish_code, municipality_code, state_code)
        SELECT code, name, address, latitude, longitude, parish_code, municipality_code, state_code FROM input
        ON CONFLICT (code) DO UPDATE SET
          name = excluded.name,
          address = CASE WHEN ${columns.address} THEN excluded.address ELSE c.address END,
          latitude = CASE WHEN ${columns.coordinates} THEN excluded.latitude ELSE c.latitude END,
          longitude = CASE WHEN ${columns.coordinates} THEN excluded.longitude ELSE c.longitude END,
          updated_at = now()
        WHERE (c.name, c.address, c.latitude, c.longitude) IS DISTINCT FROM (
          excluded.name,
          CASE WHEN ${columns.address} THEN excluded.address ELSE c.address END,
          CASE WHEN ${columns.coordinates} THEN excluded.latitude ELSE c.latitude END,
          CASE WHEN ${columns.coordinates} THEN excluded.longitude ELSE c.longitude END)
        RETURNING (xmax = 0) AS inserted)
      SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM upserted`,
    );
  },

  async upsertTables(tx: Sql, tables: DraftTable[]): Promise<UpsertCounts> {
    const rows = tables.map((t) => ({
      centre_code: t.centreCode,
      number: t.number,
      registered_voters: t.registeredVoters,
    }));
    return countUpserts(
      rows,
      (json) => tx.$queryRaw`
      WITH upserted AS (
        INSERT INTO polling_tables AS t (centre_code, number, registered_voters)
        SELECT centre_code, number, registered_voters
        FROM jsonb_to_recordset(${json}::jsonb) AS x(centre_code text, number int, registered_voters int)
        ON CONFLICT (centre_code, number) DO UPDATE SET registered_voters = excluded.registered_voters, updated_at = now()
        WHERE t.registered_voters IS DISTINCT FROM excluded.registered_voters
        RETURNING (xmax = 0) AS inserted)
      SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM upserted`,
    );
  },

  async findRegion(
    db: Sql,
    code: string,
  ): Promise<{ code: string; name: string; level: Level; parentCode: string | null } | undefined> {
    const rows = await db.$queryRaw<{ code: string; name: string; level: Level; parentCode: string | null }[]>`
      SELECT code, name, level::text AS level, parent_code AS "parentCode" FROM regions WHERE code = ${code}`;
    return rows[0];
  },

  /** The region's ancestors, from the state down to its parent. */
  async ancestors(db: Sql, code: string): Promise<{ code: string; name: string; level: Level }[]> {
    return db.$queryRaw`
      WITH RECURSIVE up AS (
        SELECT code, name, level, parent_code, 0 AS depth FROM regions WHERE code = (SELECT parent_code FROM regions WHERE code = ${code})
        UNION ALL
        SELECT r.code, r.name, r.level, r.parent_code, up.depth + 1 FROM regions r JOIN up ON r.code = up.parent_code WHERE up.depth < 10)
      SELECT code, name, level::text AS level FROM up ORDER BY depth DESC`;
  },

  /** Regions with their counts of centres, tables and registered voters. */
  async listRegions(db: Sql, filter: { level?: Level; parent?: string; code?: string }): Promise<RegionRow[]> {
    const conditions = [
      filter.level ? Prisma.sql`r.level = ${filter.level}::region_level` : undefined,
      filter.parent ? Prisma.sql`r.parent_code = ${filter.parent}` : undefined,
      filter.code ? Prisma.sql`r.code = ${filter.code}` : undefined,
    ].filter((condition): condition is Prisma.Sql => condition !== undefined);
    const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
    // The counts per region are kept in summary_registry, rewritten in the transaction of every registry import
    // that changes anything (testigo_summary_registry_refresh): a primary-key lookup per region. Every centre has
    // a table (the file has a row per table), so its count of centres with tables is its count of centres.
    return db.$queryRaw`
      SELECT r.code, r.name, r.level::text AS level, r.parent_code AS "parentCode",
             coalesce(s.centres, 0)::int AS centres, coalesce(s.tables, 0)::int AS tables,
             coalesce(s.registered_voters, 0)::int AS "registeredVoters"
      FROM regions r
      LEFT JOIN summary_registry s ON s.level = r.level::text AND s.code = r.code
      ${where}
      ORDER BY r.code`;
  },

  async countChildren(db: Sql, code: string): Promise<number> {
    const [row] = await db.$queryRaw<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM regions WHERE parent_code = ${code}`;
    return row?.n ?? 0;
  },

  async listCentres(
    db: Sql,
    filter: { region?: { code: string; level: Level }; q?: string; after?: string; limit: number },
  ): Promise<CentreRow[]> {
    const column = {
      state: Prisma.sql`c.state_code`,
      municipality: Prisma.sql`c.municipality_code`,
      parish: Prisma.sql`c.parish_code`,
    };
    const pattern = filter.q ? containing(filter.q) : undefined;
    const conditions = [
      filter.region ? Prisma.sql`${column[filter.region.level]} = ${filter.region.code}` : undefined,
      pattern ? Prisma.sql`(c.code ILIKE ${pattern} OR c.name ILIKE ${pattern})` : undefined,
      filter.after ? Prisma.sql`c.code > ${filter.after}` : undefined,
    ].filter((condition): condition is Prisma.Sql => condition !== undefined);
    const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
    return db.$queryRaw`
      SELECT c.code, c.name, c.address, c.latitude, c.longitude, c.parish_code AS "parishCode",
             c.municipality_code AS "municipalityCode", c.state_code AS "stateCode",
             (SELECT count(*)::int FROM polling_tables t WHERE t.centre_code = c.code) AS "tableCount",
             (SELECT coalesce(sum(t.registered_voters), 0)::int FROM polling_tables t WHERE t.centre_code = c.code) AS "registeredVoters"
      FROM centres c ${where}
      ORDER BY c.code
      LIMIT ${filter.limit}`;
  },

  async findCentre(db: Sql, code: string) {
    return db.centre.findUnique({
      where: { code },
      include: {
        tables: { orderBy: { number: 'asc' }, select: { number: true, registeredVoters: true } },
        parish: { select: { code: true, name: true } },
        municipality: { select: { code: true, name: true } },
        state: { select: { code: true, name: true } },
      },
    });
  },
};

/** The registry's statements on `prisma`, and `transaction(run)` to run some in one transaction. */
export const createRegistryRepository = (prisma: PrismaClient) => repositoryOf(prisma, registryRepository);
export type RegistryRepository = ReturnType<typeof createRegistryRepository>;
