// OpenAPI 3.1 generated from the routes' zod schemas, served at /openapi.json, with Swagger UI at /docs.
// The document is also committed as openapi.json (npm run openapi) and a test fails when it is stale.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/** Routes whose body is a raw stream (CSV, multipart) declare it for the document through `config.rawBody`. */
declare module 'fastify' {
  interface FastifyContextConfig {
    rawBody?: { description: string; contentTypes: string[] };
  }
}

export const openapiPlugin = fp(
  async (app: FastifyInstance, options: { version: string; ui: boolean }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Testigo API',
          version: options.version,
          description: 'Election observation reports, evidence and summaries. Errors are application/problem+json (RFC 9457) with a stable `code`.',
          license: { name: 'AGPL-3.0-or-later', identifier: 'AGPL-3.0-or-later' },
        },
        tags: [
          { name: 'health', description: 'Liveness and readiness' },
          { name: 'registry', description: 'Regions, polling centres and tables' },
        ],
      },
      transform: (input) => {
        const output = jsonSchemaTransform(input);
        const rawBody = input.route.config?.rawBody;
        if (rawBody) {
          output.schema = {
            ...output.schema,
            consumes: rawBody.contentTypes,
            body: { type: 'string', description: rawBody.description },
          } as typeof output.schema;
        }
        return output;
      },
      transformObject: jsonSchemaTransformObject,
    });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    if (options.ui) {
      await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { url: '/openapi.json' } as Record<string, unknown> });
    }
  },
  { name: 'openapi', fastify: '5.x' },
);
