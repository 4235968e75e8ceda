// Writes a migration that (re)defines database functions from their source files:
//   npm run db:function-migration -- NAME FUNCTION [FUNCTION...]   (or --all for every function)
// Edit the function in src/features/<feature>/<feature>.functions.sql first; the migration is generated.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { functionMigrationSql, migrationFolderName, readFunctionFiles, repoRoot } from './functions.js';

const [name, ...rest] = process.argv.slice(2);
const all = (await readFunctionFiles()).flatMap((file) => file.functions.map((fn) => fn.name));
if (!name || name.startsWith('-') || rest.length === 0) {
  process.stderr.write(
    'usage: npm run db:function-migration -- NAME FUNCTION [FUNCTION...]   (or --all)\n' +
      `functions with a source: ${all.join(', ')}\n`,
  );
  process.exit(2);
}
const names = rest.includes('--all') ? all : rest;
const folder = join(repoRoot, 'prisma', 'migrations', migrationFolderName(name));
if (existsSync(folder)) throw new Error(`${relative(repoRoot, folder)} exists already`);
const sql = await functionMigrationSql(names);
await mkdir(folder);
await writeFile(join(folder, 'migration.sql'), sql);
process.stdout.write(`wrote ${relative(repoRoot, join(folder, 'migration.sql'))} (${names.join(', ')})\n`);
