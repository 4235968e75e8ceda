// HTTP routes of the registry: import (CSV body or multipart file) and reads of regions and centres.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { contextOf } from '../../infra/auth/actor.js';
import { encodeCursor } from '../../infra/http/pagination.js';
import { problemResponses } from '../../infra/http/problems.js';
import { acceptCsvStreams, requireCsvUpload, uploadedFile } from '../../infra/http/upload.js';
import {
  centreDetailSchema,
  centreListQuery,
  centrePageSchema,
  codeParams,
  importSummarySchema,
  regionDetailSchema,
  regionListQuery,
  regionSchema,
} from './registry.schemas.js';

const REGISTRY_CSV_EXAMPLE =
  'state_code,state_name,municipality_code,municipality_name,parish_code,parish_name,' +
  'centre_code,centre_name,table_number,registered_voters\n' +
  '01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101001,ESCUELA MADARIAGA,1,760\n';

export interface RegistryRoutesOptions {
  importMaxBytes: number;
}

export async function registryRoutes(app: FastifyInstance, options: RegistryRoutesOptions): Promise<void> {
  const service = app.services.registry;
  const route = app.withTypeProvider<ZodTypeProvider>();

  acceptCsvStreams(app);

  route.post(
    '/v1/registry/import',
    {
      preParsing: requireCsvUpload,
      config: {
        roles: ['admin'],
        rawBody: {
          description:
            'The registry CSV, one row per table (see the README), as a text/csv body or a multipart part named ' +
            '`file`.',
          content: {
            'text/csv': { schema: { type: 'string', examples: [REGISTRY_CSV_EXAMPLE] } },
            'multipart/form-data': {
              schema: {
                type: 'object',
                properties: { file: { type: 'string', format: 'binary' } },
                required: ['file'],
              },
            },
          },
        },
      },
      bodyLimit: options.importMaxBytes,
      schema: {
        tags: ['registry'],
        operationId: 'registry.import',
        summary: 'Import or update regions, centres and tables from a CSV',
        description:
          'All or nothing: a file with any problem is rejected with every problem and its line number, and nothing ' +
          'is written. Re-importing the same file changes nothing; a corrected file updates names, addresses, ' +
          'coordinates and registered voters. Nothing is ever deleted.',
        response: { 200: importSummarySchema, ...problemResponses(400, 401, 403, 413, 415, 422, 429, 503) },
      },
    },
    async (request) => {
      const summary = await service.importCsv(contextOf(request), await uploadedFile(request, options.importMaxBytes));
      request.log.info({ event: 'registry.imported', ...summary }, 'registry imported');
      return summary;
    },
  );

  route.get(
    '/v1/regions',
    {
      schema: {
        tags: ['registry'],
        operationId: 'regions.list',
        summary: 'List regions with their counts of centres, tables and registered voters',
        description: 'Filters by `level` and/or `parent`; with neither, lists the states.',
        querystring: regionListQuery,
        response: { 200: z.object({ items: z.array(regionSchema) }), ...problemResponses(400, 401, 404, 429, 503) },
      },
    },
    async (request) => ({ items: await service.listRegions(request.query) }),
  );

  route.get(
    '/v1/regions/:code',
    {
      schema: {
        tags: ['registry'],
        operationId: 'regions.get',
        summary: 'One region with its ancestors and counts',
        params: codeParams,
        response: { 200: regionDetailSchema, ...problemResponses(400, 401, 404, 429, 503) },
      },
    },
    async (request) => service.getRegion(request.params.code),
  );

  route.get(
    '/v1/centres',
    {
      schema: {
        tags: ['registry'],
        operationId: 'centres.list',
        summary: 'List polling centres, by region at any level and by name or code',
        querystring: centreListQuery,
        response: { 200: centrePageSchema, ...problemResponses(400, 401, 404, 429, 503) },
      },
    },
    async (request) => {
      const { region, q, cursor, limit } = request.query;
      const page = await service.listCentres({ region, q, after: cursor?.after, limit });
      return { items: page.items, nextCursor: page.next ? encodeCursor({ after: page.next }) : null };
    },
  );

  route.get(
    '/v1/centres/:code',
    {
      schema: {
        tags: ['registry'],
        operationId: 'centres.get',
        summary: 'One polling centre with its tables',
        params: codeParams,
        response: { 200: centreDetailSchema, ...problemResponses(400, 401, 404, 429, 503) },
      },
    },
    async (request) => service.getCentre(request.params.code),
  );
}
