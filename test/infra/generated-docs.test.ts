// The committed generated documents (openapi.json, docs/errors.md) are what `npm run openapi` writes
// today, and the OpenAPI document holds the few promises clients rely on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generatedPaths, renderErrorsMarkdown, renderOpenapi, repoRoot } from '../../scripts/docs.js';
import { problemCatalogue, problemType } from '../../src/infra/errors.js';

const committed = (path: string): string => {
  try {
    return readFileSync(join(repoRoot, path), 'utf8');
  } catch {
    return `(${path} is missing)`;
  }
};

const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Operation {
  operationId?: string;
  tags?: string[];
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

let openapiText: string;
let document: {
  openapi: string;
  paths: Record<string, Partial<Record<(typeof httpMethods)[number], Operation>>>;
  components?: { schemas?: Record<string, unknown> };
  tags?: { name: string }[];
};
let operations: { method: string; path: string; operation: Operation }[];

beforeAll(async () => {
  openapiText = await renderOpenapi();
  document = JSON.parse(openapiText) as typeof document;
  operations = Object.entries(document.paths).flatMap(([path, item]) =>
    httpMethods.flatMap((method) =>
      item[method] ? [{ method: method.toUpperCase(), path, operation: item[method] }] : [],
    ),
  );
});

describe('generated documents', () => {
  it('openapi.json is up to date', () => {
    expect(
      committed(generatedPaths.openapi),
      `${generatedPaths.openapi} is stale: run npm run openapi, and commit it`,
    ).toBe(openapiText);
  });

  it('docs/errors.md is up to date', () => {
    expect(
      committed(generatedPaths.errors),
      `${generatedPaths.errors} is stale: run npm run openapi, and commit it`,
    ).toBe(renderErrorsMarkdown());
  });
});

describe('the problem catalogue', () => {
  const codes = Object.keys(problemCatalogue);

  it('has unique, well-formed codes, each with its own type URI', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code, 'codes are UPPER_SNAKE_CASE').toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    const types = codes.map((code) => problemType(code as keyof typeof problemCatalogue));
    expect(new Set(types).size).toBe(codes.length);
  });

  it('has every code documented in docs/errors.md', () => {
    const markdown = committed(generatedPaths.errors);
    const missing = codes.filter(
      (code) =>
        !markdown.includes(`| \`${code}\` | ${problemCatalogue[code as keyof typeof problemCatalogue].status} |`),
    );
    expect(missing, 'codes missing from docs/errors.md: run npm run openapi').toEqual([]);
  });

  it('is the enum of `code` in the Problem schema of the OpenAPI document', () => {
    const problem = document.components?.schemas?.Problem as
      | { properties?: { code?: { enum?: string[] } } }
      | undefined;
    expect(problem?.properties?.code?.enum).toEqual(codes);
  });
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1', () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
  });

  it('documents at least the health and registry routes', () => {
    const routes = operations.map(({ method, path }) => `${method} ${path}`);
    expect(routes).toEqual(
      expect.arrayContaining(['GET /healthz', 'GET /readyz', 'POST /v1/registry/import', 'GET /v1/regions']),
    );
  });

  it('gives every operation an operationId, a declared tag and a response schema for every status', () => {
    const declaredTags = new Set((document.tags ?? []).map((tag) => tag.name));
    const problems: string[] = [];
    for (const { method, path, operation } of operations) {
      const where = `${method} ${path}`;
      if (!operation.operationId) problems.push(`${where}: no operationId`);
      if (!operation.tags?.length) problems.push(`${where}: no tag`);
      for (const tag of operation.tags ?? [])
        if (!declaredTags.has(tag)) problems.push(`${where}: tag "${tag}" is not declared`);
      const responses = Object.entries(operation.responses ?? {});
      if (responses.length === 0) problems.push(`${where}: no responses`);
      for (const [status, response] of responses) {
        const media = Object.entries(response.content ?? {});
        if (media.length === 0 && status !== '204') problems.push(`${where} ${status}: no content`);
        for (const [type, { schema }] of media) if (!schema) problems.push(`${where} ${status} ${type}: no schema`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has unique operationIds', () => {
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
  });

  it('has every $ref resolve to a component', () => {
    const schemas = document.components?.schemas ?? {};
    const refs = [...openapiText.matchAll(/"\$ref": "([^"]+)"/g)].map((match) => match[1]!);
    expect(refs.length).toBeGreaterThan(0);
    const dangling = refs.filter(
      (ref) => !(ref.startsWith('#/components/schemas/') && ref.slice('#/components/schemas/'.length) in schemas),
    );
    expect([...new Set(dangling)]).toEqual([]);
  });
});
