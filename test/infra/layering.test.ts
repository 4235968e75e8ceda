// The layering of issue 11, checked on the source text: repositories own SQL and transactions, infra/
// queries no feature table and imports no feature, and the pieces that were repeated live once.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const files = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
const source = files('src').filter((file) => !file.startsWith(join('src', 'generated')));
const text = (file: string) => readFileSync(join(root, file), 'utf8');
const matching = (pattern: RegExp, among = source) =>
  among.filter((file) => pattern.test(text(file))).map((file) => relative(root, file));

/** Running SQL or a transaction, or using a Prisma model. */
const MODELS = 'user|apiToken|centre|region|assignment';
const DATA_ACCESS = new RegExp(
  `\\$queryRaw|\\$executeRaw|\\$transaction|\\.(${MODELS})\\.(find|create|update|delete|upsert|count)`,
);
const PRISMA_IMPORT = /from '[./]*generated\/prisma\//;

describe('layering › users, registry and infra', () => {
  const notRepositories = source.filter(
    (file) => /features\/(users|registry)\//.test(file) && !file.endsWith('.repository.ts'),
  );

  it('users and registry services, importers and routes neither import Prisma nor run SQL', () => {
    expect(notRepositories.length).toBeGreaterThan(5);
    expect(matching(PRISMA_IMPORT, notRepositories)).toEqual([]);
    expect(matching(DATA_ACCESS, notRepositories)).toEqual([]);
  });

  it('infra/ imports no feature, and outside infra/db runs no statement', () => {
    const infra = source.filter((file) => file.startsWith(join('src', 'infra')));
    expect(matching(/from '[./]*features\//, infra)).toEqual([]);
    const outsideDb = infra.filter((file) => !file.startsWith(join('src', 'infra', 'db')));
    // The one writer left: the audit trail's rows, which every feature's repository adds inside its own transaction
    // (the token cache's pg_notify lives in infra/db/listener.ts).
    expect(matching(DATA_ACCESS, outsideDb)).toEqual(['src/infra/audit.ts']);
    expect(text('src/infra/auth/token-cache.ts')).not.toMatch(/api_tokens|users/);
  });
});

describe('layering › repeated pieces live once', () => {
  it('the "in region" condition (a region among the three codes of a row) is policy.inRegion', () => {
    expect(matching(/IN \(\S*state_code, \S*municipality_code, \S*parish_code\)/)).toEqual([
      'src/infra/auth/policy.ts',
    ]);
    expect(text('src/infra/auth/policy.ts').match(/state_code, \S*municipality_code/g)).toHaveLength(1);
    expect(matching(/regions\.includes\(/)).toEqual([]);
  });

  it('LIKE escaping is infra/db/sql', () => {
    expect(matching(/replace\(\/\[\\\\%_\]\/g/)).toEqual(['src/infra/db/sql.ts']);
  });

  it('the client-or-transaction type is infra/db/client Db', () => {
    const union = /PrismaClient \| Prisma\.TransactionClient|Prisma\.TransactionClient \| PrismaClient/;
    expect(matching(union)).toEqual(['src/infra/db/client.ts']);
    expect(matching(/Parameters<PrismaClient\['\$transaction'\]>/)).toEqual([]);
  });

  it('the problem rejecting a CSV file is LineErrors.problem', () => {
    expect(matching(/function invalid\(errors: LineErrors\)/)).toEqual([]);
    expect(matching(/errors\.problem\('(USERS|REGISTRY)_CSV_INVALID'\)/).sort()).toEqual([
      'src/features/registry/registry.service.ts',
      'src/features/users/users.import.ts',
    ]);
  });
});
