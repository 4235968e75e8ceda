// The dependency rules between features, read from the sources: photos depend on reports, never the other way;
// no two features import each other; no feature reaches another feature's repository; no service or route
// imports the Prisma client or runs SQL (repositories do).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../src/features');
const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => join(root, file));
const featureOf = (file: string) => relative(root, file).split('/')[0]!;
/** Every relative import of `file`, resolved to a path under src/. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)].map((match) =>
    resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts')),
  );
}
const edges = files.flatMap((file) =>
  importsOf(file)
    .filter((target) => target.startsWith(`${root}/`) && featureOf(target) !== featureOf(file))
    .map((target) => ({
      from: relative(root, file),
      to: relative(root, target),
      fromFeature: featureOf(file),
      toFeature: featureOf(target),
    })),
);
// Still reaching the audit feature's repository for its writer (now src/infra/audit.ts): users and registry
// belong to another step of issue 11; this list only shrinks.
const pending = new Set<string>();

describe('imports between features', () => {
  it('photos depend on reports, and reports import nothing of photos', () => {
    expect(
      edges.filter((edge) => edge.fromFeature === 'photos' && edge.toFeature === 'reports').length,
    ).toBeGreaterThan(0);
    expect(edges.filter((edge) => edge.fromFeature === 'reports' && edge.toFeature === 'photos')).toEqual([]);
  });

  it('no two features import each other', () => {
    const pairs = new Set(edges.map((edge) => `${edge.fromFeature}>${edge.toFeature}`));
    expect([...pairs].filter((pair) => pairs.has(pair.split('>').reverse().join('>')))).toEqual([]);
  });

  it("no feature imports another feature's repository", () => {
    expect(edges.filter((edge) => edge.to.endsWith('.repository.ts') && !pending.has(edge.from))).toEqual([]);
  });

  it('no service or route of reports, photos, election, audit or summaries imports Prisma or runs SQL', () => {
    const mine = files.filter((file) =>
      /\/(reports|photos|election|audit|summaries)\/[^/]+\.(service|routes)\.ts$/.test(file),
    );
    expect(mine.length).toBeGreaterThan(8);
    const offending = mine.filter((file) =>
      /generated\/prisma|\$queryRaw|\$executeRaw|\$transaction|Prisma\.sql/.test(readFileSync(file, 'utf8')),
    );
    expect(offending.map((file) => relative(root, file))).toEqual([]);
  });
});
