// Writes the generated documents: openapi.json and docs/errors.md (npm run openapi). No database needed.
// Commit the result; test/infra/generated-docs.test.ts fails when they are stale.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generatedPaths, renderErrorsMarkdown, renderOpenapi, repoRoot } from './docs.js';

const outputs: [string, string][] = [
  [generatedPaths.openapi, await renderOpenapi()],
  [generatedPaths.errors, renderErrorsMarkdown()],
];
for (const [path, content] of outputs) {
  const file = join(repoRoot, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content);
  process.stdout.write(`wrote ${path}\n`);
}
