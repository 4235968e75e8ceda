// The database our migrations build is the one prisma/schema.prisma describes: the SQL Prisma itself
// writes for the schema (../shared/tools/migration-sql empty prisma/schema.prisma) applied to an empty
// database gives the same tables, columns, enums, indexes and constraints as prisma/migrations applied by
// our migrator. A schema edit without its migration (or a hand-edited migration) fails here.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../../src/infra/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tool = resolve(repoRoot, process.env.MIGRATION_SQL || '../shared/tools/migration-sql');
const toolPresent = existsSync(tool);
// In CI a missing tool is a failure (the check must run there); elsewhere the comparison is skipped.
const inCi = Boolean(process.env.CI);
if (!toolPresent && !inCi) {
  console.warn(
    `schema-drift: ${tool} not found, so the schema/migrations comparison is skipped (set MIGRATION_SQL to the tool's path).`,
  );
}

/** The one schema Prisma manages. */
const schemaName = 'public';

/**
 * A schema as a map from what an object is (`column regions.name`) to how it is defined. Column order is
 * deliberately ignored (a migration adding a column appends it; Prisma's fresh SQL does not), and so is
 * `_prisma_migrations`, which only the migrator creates.
 */
type SchemaDescription = Map<string, string>;

const normaliseDefinition = (definition: string): string =>
  definition
    .replace(/\s+/g, ' ')
    .replace(new RegExp(`(?<![\\w"])"?${schemaName}"?\\.`, 'g'), '')
    .trim();

async function describeSchema(db: TestDatabase): Promise<SchemaDescription> {
  const description: SchemaDescription = new Map();
  const params = [schemaName];

  const relations = await db.query<{ name: string; kind: string }>(
    `SELECT c.relname AS name, c.relkind::text AS kind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relname <> '_prisma_migrations'`,
    params,
  );
  const kinds: Record<string, string> = {
    r: 'table',
    p: 'table',
    v: 'view',
    m: 'materialized view',
    S: 'sequence',
    f: 'foreign table',
  };
  for (const { name, kind } of relations) description.set(`${kinds[kind] ?? kind} ${name}`, 'exists');

  const columns = await db.query<{
    table: string;
    column: string;
    type: string;
    not_null: boolean;
    default: string | null;
    identity: string;
    generated: string;
    collation: string | null;
  }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity::text AS identity, a.attgenerated::text AS generated,
            CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END AS collation
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> '_prisma_migrations'`,
    params,
  );
  for (const column of columns) {
    const parts = [normaliseDefinition(column.type), column.not_null ? 'NOT NULL' : 'NULL'];
    if (column.default !== null) parts.push(`DEFAULT ${normaliseDefinition(column.default)}`);
    if (column.identity) parts.push(`IDENTITY ${column.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'}`);
    if (column.generated) parts.push('GENERATED');
    if (column.collation) parts.push(`COLLATE ${column.collation}`);
    description.set(`column ${column.table}.${column.column}`, parts.join(' '));
  }

  const enums = await db.query<{ name: string; labels: string[] }>(
    `SELECT t.typname AS name, json_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE n.nspname = $1
      GROUP BY t.typname`,
    params,
  );
  for (const { name, labels } of enums) description.set(`enum ${name}`, labels.map((label) => `'${label}'`).join(', '));

  const indexes = await db.query<{ table: string; name: string; definition: string }>(
    `SELECT t.relname AS table, i.relname AS name, pg_get_indexdef(i.oid) AS definition
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname <> '_prisma_migrations'`,
    params,
  );
  for (const index of indexes)
    description.set(`index ${index.table}.${index.name}`, normaliseDefinition(index.definition));

  // NOT NULL constraints (contype 'n', PostgreSQL 18+) are already the columns' nullability.
  const constraints = await db.query<{ table: string; name: string; definition: string }>(
    `SELECT t.relname AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname <> '_prisma_migrations' AND c.contype::text <> 'n'`,
    params,
  );
  for (const constraint of constraints) {
    description.set(`constraint ${constraint.table}.${constraint.name}`, normaliseDefinition(constraint.definition));
  }

  const extensions = await db.query<{ name: string }>(
    `SELECT extname AS name FROM pg_extension WHERE extname <> 'plpgsql'`,
  );
  for (const { name } of extensions) description.set(`extension ${name}`, 'installed');
  return description;
}

/** Every difference between two descriptions, readably; empty when they are the same. */
function compareSchemas(expected: SchemaDescription, actual: SchemaDescription, labels: [string, string]): string[] {
  const width = Math.max(labels[0].length, labels[1].length) + 1;
  const label = (text: string) => `${text}:`.padEnd(width);
  const keys = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  const differences: string[] = [];
  for (const key of keys) {
    const want = expected.get(key);
    const got = actual.get(key);
    if (want === got) continue;
    if (got === undefined) differences.push(`- ${key}: only in ${labels[0]} (${want})`);
    else if (want === undefined) differences.push(`+ ${key}: only in ${labels[1]} (${got})`);
    else differences.push(`~ ${key}\n    ${label(labels[0])} ${want}\n    ${label(labels[1])} ${got}`);
  }
  return differences;
}

const report = (differences: string[]) => `${differences.length} difference(s):\n${differences.join('\n')}`;

async function schemaSql(): Promise<string> {
  const { stdout } = await promisify(execFile)(tool, ['empty', 'prisma/schema.prisma'], {
    cwd: repoRoot,
    // The tool opens (and changes nothing in) a PostgreSQL server: the one these tests use.
    env: { ...process.env, DATABASE_URL: inject('adminDatabaseUrl') },
    timeout: 220_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: Error & { stderr?: string }) => {
    throw new Error(`${tool} empty prisma/schema.prisma failed: ${error.message}\n${error.stderr ?? ''}`, {
      cause: error,
    });
  });
  return stdout;
}

const databases: TestDatabase[] = [];
async function database(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const db = await createTestDatabase(options);
  databases.push(db);
  return db;
}
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

describe('schema drift', () => {
  it.skipIf(!toolPresent && !inCi)(
    toolPresent
      ? 'the migrated database matches prisma/schema.prisma'
      : `the migrated database matches prisma/schema.prisma (${inCi ? 'fails in CI' : 'skipped'}: ${tool} not found)`,
    async () => {
      expect(toolPresent, `CI is set and ${tool} is missing: set MIGRATION_SQL to the tool's path`).toBe(true);
      const sql = await schemaSql();
      expect(sql).toMatch(/CREATE TABLE/);
      const fromSchema = await database({ migrated: false });
      await fromSchema.query(sql);
      const migrated = await database();

      const differences = compareSchemas(await describeSchema(fromSchema), await describeSchema(migrated), [
        'prisma/schema.prisma',
        'prisma/migrations',
      ]);
      expect(
        differences,
        `prisma/migrations do not build the database prisma/schema.prisma describes; write the missing migration with ` +
          `../shared/tools/migration-sql (see its header). ${report(differences)}`,
      ).toEqual([]);
    },
    240_000,
  );

  // The comparison must be able to fail, or the test above could pass vacuously.
  describe('the comparison sees a change of', () => {
    let baseline: SchemaDescription;
    const mutations: { what: string; sql: string; expected: string }[] = [
      {
        what: 'a new column',
        sql: 'ALTER TABLE regions ADD COLUMN extra int',
        expected: '+ column regions.extra: only in changed (integer NULL)',
      },
      {
        what: 'a column type',
        sql: 'ALTER TABLE regions ALTER COLUMN name TYPE varchar(100)',
        expected: '~ column regions.name',
      },
      {
        what: 'a nullability',
        sql: 'ALTER TABLE centres ALTER COLUMN address SET NOT NULL',
        expected: '~ column centres.address',
      },
      {
        what: 'a default',
        sql: 'ALTER TABLE polling_tables ALTER COLUMN updated_at DROP DEFAULT',
        expected: '~ column polling_tables.updated_at',
      },
      {
        what: 'an enum label',
        sql: `ALTER TYPE region_level ADD VALUE 'country' BEFORE 'state'`,
        expected: '~ enum region_level',
      },
      {
        what: 'an index',
        sql: 'DROP INDEX regions_level_idx',
        expected: '- index regions.regions_level_idx: only in migrated',
      },
      {
        what: 'a foreign key action',
        sql: 'ALTER TABLE centres DROP CONSTRAINT centres_state_code_fkey, ADD CONSTRAINT centres_state_code_fkey FOREIGN KEY (state_code) REFERENCES regions(code) ON DELETE CASCADE ON UPDATE CASCADE',
        expected: '~ constraint centres.centres_state_code_fkey',
      },
    ];

    it.each(mutations)('$what', async ({ sql, expected }) => {
      if (!baseline) {
        // A database the migrator builds from empty, rather than a clone of the template.
        const fresh = await database({ migrated: false });
        await migrate(fresh.url);
        baseline = await describeSchema(fresh);
        expect(compareSchemas(baseline, await describeSchema(await database()), ['migrated', 'template'])).toEqual([]);
      }
      const changed = await database();
      await changed.query(sql);
      const differences = compareSchemas(baseline, await describeSchema(changed), ['migrated', 'changed']);
      expect(differences).toHaveLength(1);
      expect(differences[0]).toContain(expected);
    });
  });
});
