// Every function in the database has one source file (src/features/*/*.functions.sql), and the migrated
// database's functions are exactly what those files define: the files are executed in a schema of their
// own in a fresh database and each function's pg_get_functiondef compared with the migrated one's.
// A migration generated from the files (npm run db:function-migration) brings a database to them.
import { afterAll, describe, expect, it } from 'vitest';
import {
  functionMigrationSql,
  migrationFolderName,
  parseFunctions,
  readFunctionFiles,
} from '../../scripts/functions.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const sourceSchema = 'function_sources';

const databases: TestDatabase[] = [];
async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

/** Each user-defined function of `schema` (extensions' own left out), its definition as PostgreSQL prints it. */
async function functionsOf(db: TestDatabase, schema: string): Promise<Map<string, string>> {
  const rows = await db.query<{ name: string; definition: string }>(
    `SELECT p.proname AS name, pg_get_functiondef(p.oid) AS definition
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND p.prokind = 'f'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d
                         WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`,
    [schema],
  );
  const normalise = (definition: string) =>
    definition
      .replace(/\r\n/g, '\n')
      .replace(new RegExp(`^(CREATE OR REPLACE FUNCTION )${schema}\\.`), '$1')
      .split('\n')
      .map((line) => line.trimEnd())
      .join('\n')
      .trim();
  return new Map(rows.map((row) => [row.name, normalise(row.definition)]));
}

/** What the source files define, created in a schema of their own of `db`. */
async function functionsFromSources(db: TestDatabase): Promise<Map<string, string>> {
  const files = await readFunctionFiles();
  const sql = files.map((file) => file.sql).join('\n');
  // One simple-query round trip, so SET LOCAL holds for every statement of the files.
  await db.query(
    `BEGIN; CREATE SCHEMA ${sourceSchema}; SET LOCAL search_path = ${sourceSchema}, public; ${sql}; COMMIT;`,
  );
  return functionsOf(db, sourceSchema);
}

function differences(expected: Map<string, string>, actual: Map<string, string>): string[] {
  const names = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  return names.flatMap((name) => {
    const want = expected.get(name);
    const got = actual.get(name);
    if (want === got) return [];
    if (got === undefined) return [`${name}: only in the source files`];
    if (want === undefined) return [`${name}: in the migrated database, without a source file`];
    return [`${name}: the migrated database differs from its source file`];
  });
}

describe('database functions › one source file each', () => {
  it('the migrated database has exactly the functions of the .functions.sql files, each as defined there', async () => {
    const db = await database();
    const migrated = await functionsOf(db, 'public');
    const sources = await functionsFromSources(db);
    expect([...migrated.keys()].sort()).toEqual(
      expect.arrayContaining([
        'testigo_append_only',
        'testigo_summaries_apply',
        'testigo_summaries_on_reports',
        'testigo_summaries_rebuild',
      ]),
    );
    expect(
      differences(sources, migrated),
      'edit the function in its .functions.sql file and write the migration with npm run db:function-migration',
    ).toEqual([]);
    for (const [name, definition] of sources) expect(migrated.get(name), name).toBe(definition);
  });

  it('the comparison sees a changed body, a changed setting and a function without a source', async () => {
    const db = await database();
    await db.query(`CREATE OR REPLACE FUNCTION testigo_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is read-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$`);
    await db.query(`ALTER FUNCTION testigo_summaries_apply(reports[], reports[]) RESET plan_cache_mode`);
    await db.query(`CREATE FUNCTION testigo_stray() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$`);
    const found = differences(await functionsFromSources(db), await functionsOf(db, 'public'));
    expect(found).toEqual([
      'testigo_append_only: the migrated database differs from its source file',
      'testigo_stray: in the migrated database, without a source file',
      'testigo_summaries_apply: the migrated database differs from its source file',
    ]);
  });

  it('each function is defined in one file, by one CREATE OR REPLACE FUNCTION statement', async () => {
    const files = await readFunctionFiles();
    expect(files.map((file) => file.file)).toEqual(
      expect.arrayContaining([
        'src/features/audit/audit.functions.sql',
        'src/features/summaries/summaries.functions.sql',
      ]),
    );
    for (const file of files) {
      // Nothing but the functions and comments: every statement of the file is one of its functions.
      const rest = file.functions.reduce((text, fn) => text.replace(fn.sql, ''), file.sql);
      expect(
        rest.split('\n').filter((line) => line.trim() && !line.trim().startsWith('--')),
        file.file,
      ).toEqual([]);
    }
    expect(() =>
      parseFunctions('x.sql', 'CREATE OR REPLACE FUNCTION "f"() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;'),
    ).toThrow(/closing/);
  });
});

describe('npm run db:function-migration', () => {
  it('writes the migration that brings a database to the source files, and keeps an up-to-date one', async () => {
    const db = await database();
    const before = await functionsOf(db, 'public');
    await db.query(
      'CREATE OR REPLACE FUNCTION testigo_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$',
    );
    await db.query(`ALTER FUNCTION testigo_summaries_apply(reports[], reports[]) RESET plan_cache_mode`);
    expect(differences(before, await functionsOf(db, 'public'))).toHaveLength(2);

    const all = (await readFunctionFiles()).flatMap((file) => file.functions.map((fn) => fn.name));
    const sql = await functionMigrationSql(all);
    expect(sql.match(/^CREATE OR REPLACE FUNCTION /gm)).toHaveLength(all.length);
    await db.query(`BEGIN; ${sql}; COMMIT;`);
    expect(differences(before, await functionsOf(db, 'public'))).toEqual([]);
    await db.query(`BEGIN; ${sql}; COMMIT;`);
    expect(differences(before, await functionsOf(db, 'public'))).toEqual([]);
  });

  it('takes only the functions named, and refuses a name without a source', async () => {
    const sql = await functionMigrationSql(['testigo_append_only']);
    expect(sql.match(/^CREATE OR REPLACE FUNCTION "(\w+)"/gm)).toEqual([
      'CREATE OR REPLACE FUNCTION "testigo_append_only"',
    ]);
    expect(sql).toContain('-- From src/features/audit/audit.functions.sql.');
    await expect(functionMigrationSql(['testigo_nope'])).rejects.toThrow(/no source for testigo_nope/);
    expect(migrationFolderName('fix_tallies', new Date('2026-12-03T04:05:06Z'))).toBe('20261203040506_fix_tallies');
    expect(() => migrationFolderName('Fix tallies')).toThrow(/lowercase/);
  });
});
