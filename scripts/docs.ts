// The generated documents of the repository, from one source: the OpenAPI document (openapi.json) built
// from the routes' schemas, and the error catalogue (docs/errors.md) built from src/infra/errors.ts.
// scripts/generate-docs.ts writes them (npm run openapi); test/infra/generated-docs.test.ts checks the
// committed copies are not stale. Neither needs a database: the app is built against an unreachable
// URL, and Prisma and pg connect lazily, on the first query, which never comes.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDatabase, databaseOptions } from '../src/infra/db/client.js';
import { type ProblemCode, problemCatalogue, problemType } from '../src/infra/errors.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where each generated document is committed, relative to the repository root. */
export const generatedPaths = { openapi: 'openapi.json', errors: 'docs/errors.md' } as const;

/** A URL nothing listens on: building the app and its document must never need a database. */
const unreachableDatabaseUrl = 'postgresql://localhost:1/none';

/**
 * The OpenAPI document the server serves at /openapi.json. The configuration is fixed here (defaults,
 * not the environment) so that the document does not depend on who generates it.
 */
export async function openapiDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent', DATABASE_URL: unreachableDatabaseUrl });
  const database = createDatabase(databaseOptions(config, unreachableDatabaseUrl, 'testigo-docs'));
  const app = await buildApp({ config, database, closeDatabase: true });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

/** openapi.json as committed: two-space JSON with a final newline. */
export async function renderOpenapi(): Promise<string> {
  return `${JSON.stringify(await openapiDocument(), null, 2)}\n`;
}

const cell = (text: string | number): string => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');

/** docs/errors.md as committed: every code of the problem catalogue, in the catalogue's order. */
export function renderErrorsMarkdown(): string {
  const codes = Object.keys(problemCatalogue) as ProblemCode[];
  const rows = codes.map((code) => {
    const { status, title, description } = problemCatalogue[code];
    return `| \`${code}\` | ${status} | ${cell(title.en)} | ${cell(title.es)} | ${cell(description)} |`;
  });
  return [
    '# Errors',
    '',
    '<!-- Generated from src/infra/errors.ts by `npm run openapi`; do not edit by hand. -->',
    '',
    'Every error Testigo answers with is an `application/problem+json` document ([RFC 9457](https://www.rfc-editor.org/rfc/rfc9457)):',
    '',
    `- \`type\`: a URI naming the kind of problem, \`urn:testigo:problem:<code>\` (for example \`${problemType('NOT_FOUND')}\`);`,
    "- `title`: a short, fixed summary of the kind of problem, in English or Spanish as the request's `Accept-Language` prefers (English by default; `Content-Language` says which; `Vary: Accept-Language`);",
    '- `status`: the HTTP status code, as in the response;',
    '- `detail`: what went wrong with this request, for people (in English, unless it is the title);',
    '- `code`: one of the stable codes below, for programs; codes are never renamed or reused, and never change with the language;',
    '- `requestId`: the id of the request, also sent as the `x-request-id` header; quote it when reporting a problem;',
    '- `errors[]` (when there are several problems, such as a failed validation or an invalid registry file): one entry per problem, with its `message` and, where known, `in` (`body`, `querystring`, `params`, `headers`, or `line` for files), `path` and `line`.',
    '',
    'A 5xx response never carries internal details; they are logged under the request id.',
    '',
    '| Code | Status | Title | Título (es) | Description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
