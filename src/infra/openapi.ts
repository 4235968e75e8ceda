// OpenAPI 3.1 generated from the routes' zod schemas, served at /openapi.json, with Swagger UI at /docs.
// The document is also committed as openapi.json (npm run openapi) and a test fails when it is stale.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/** Routes whose body is a raw stream (CSV, multipart) describe it for the document through `config.rawBody`. */
declare module 'fastify' {
  interface FastifyContextConfig {
    rawBody?: { description: string; content: Record<string, { schema: Record<string, unknown> }> };
    /** Routes that stream a 200 in other media types than JSON describe them here. */
    rawResponse?: { description: string; content: Record<string, { schema: Record<string, unknown> }> };
  }
}

type Json = Record<string, unknown>;

const reasons: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  304: 'Not modified',
  400: 'Bad request: `VALIDATION_FAILED` or a more specific code',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  500: 'Internal error (`INTERNAL`); details are logged under the request id',
  503: 'Unavailable: `DATABASE_UNAVAILABLE`, `DATABASE_CONFLICT`, `SERVICE_OVERLOADED`, `SHUTTING_DOWN` or `NOT_READY`; see `Retry-After`',
};

function walk(node: unknown, visit: (object: Json) => void): void {
  if (Array.isArray(node)) node.forEach((item) => walk(item, visit));
  else if (node && typeof node === 'object') {
    visit(node as Json);
    Object.values(node).forEach((value) => walk(value, visit));
  }
}

/**
 * Finishes the generated document: problem responses as application/problem+json, 500 and 503 on every
 * operation, reason phrases as descriptions, no ±2^53 bounds that zod adds to every integer, and no
 * component schemas that nothing references.
 */
export function polishDocument(document: Json): Json {
  const problemRef = { $ref: '#/components/schemas/Problem' };
  const paths = (document.paths ?? {}) as Record<string, Record<string, Json>>;
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const responses = (operation.responses ?? {}) as Record<string, Json>;
      for (const status of ['500', '503'])
        responses[status] ??= { content: { 'application/json': { schema: problemRef } } };
      for (const [status, response] of Object.entries(responses)) {
        response.description = reasons[status] ?? 'Response';
        const content = response.content as Record<string, unknown> | undefined;
        if (Number(status) >= 400 && content?.['application/json']) {
          response.content = { 'application/problem+json': content['application/json'] };
        }
      }
      operation.responses = responses;
    }
  }
  walk(document, (object) => {
    if (object.type === 'integer') {
      if (object.minimum === Number.MIN_SAFE_INTEGER) delete object.minimum;
      if (object.maximum === Number.MAX_SAFE_INTEGER) delete object.maximum;
    }
  });
  const schemas = ((document.components as Json | undefined)?.schemas ?? {}) as Record<string, unknown>;
  for (;;) {
    const referenced = new Set<string>();
    walk({ ...document, components: { ...(document.components as Json), schemas: {} } }, (object) => {
      if (typeof object.$ref === 'string') referenced.add(object.$ref.replace('#/components/schemas/', ''));
    });
    walk(schemas, (object) => {
      if (typeof object.$ref === 'string') referenced.add(object.$ref.replace('#/components/schemas/', ''));
    });
    const unused = Object.keys(schemas).filter((name) => !referenced.has(name));
    if (unused.length === 0) break;
    for (const name of unused) delete schemas[name];
  }
  return document;
}

export const openapiPlugin = fp(
  async (app: FastifyInstance, options: { version: string; ui: boolean }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Testigo API',
          version: options.version,
          description:
            'Election observation: the registry of regions, polling centres and tables; users, tokens and the audit trail. ' +
            'Every route but health, readiness and these docs needs `Authorization: Bearer <token>`. Errors are application/problem+json ' +
            '(RFC 9457) with a stable `code` (docs/errors.md) and the `requestId` echoed in the `x-request-id` header.',
          license: { name: 'AGPL-3.0-or-later', identifier: 'AGPL-3.0-or-later' },
        },
        components: {
          securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An opaque token (tg_…)' } },
        },
        security: [{ bearer: [] }],
        tags: [
          { name: 'health', description: 'Liveness and readiness' },
          { name: 'registry', description: 'Regions, polling centres and tables' },
          { name: 'users', description: 'Users, tokens, assignments and the caller' },
          { name: 'audit', description: 'The audit trail' },
          { name: 'election', description: 'The election and its candidates' },
          {
            name: 'forms',
            description: 'Forms: the built-in kinds and the mission’s own, versioned, with JSON Schemas',
          },
          { name: 'reports', description: 'Observation reports: submission, revisions, reviews, exports' },
          { name: 'photos', description: 'Photo evidence: uploads, originals, thumbnails' },
          {
            name: 'summaries',
            description:
              'Aggregates per region for dashboards: coverage, incidents, opening, results; timeline; missing centres',
          },
          {
            name: 'log',
            description: 'The verifiable log: signed checkpoints, the verifier key, proofs, entries, tiles, the audit',
          },
          { name: 'analysis', description: "Process analysis: a form's findings per question, per region" },
          { name: 'forms', description: 'Forms as data: definitions, versions, JSON Schemas' },
        ],
      },
      transform: (input) => {
        const output = jsonSchemaTransform(input);
        if (input.route.config?.public) output.schema = { ...output.schema, security: [] } as typeof output.schema;
        const rawResponse = input.route.config?.rawResponse;
        if (rawResponse) {
          const response = { ...((output.schema as { response?: object }).response ?? {}), 200: rawResponse };
          output.schema = { ...output.schema, response } as typeof output.schema;
        }
        const rawBody = input.route.config?.rawBody;
        if (rawBody) {
          output.schema = {
            ...output.schema,
            body: { description: rawBody.description, content: rawBody.content },
          } as typeof output.schema;
        }
        return output;
      },
      transformObject: (input) =>
        polishDocument(jsonSchemaTransformObject(input) as Json) as ReturnType<typeof jsonSchemaTransformObject>,
    });
    app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
    if (options.ui) {
      // The reference page and its assets are public, like the document.
      app.addHook('onRoute', (route) => {
        if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true };
      });
      await app.register(swaggerUi, { routePrefix: '/docs' });
    }
  },
  { name: 'openapi', fastify: '5.x' },
);
