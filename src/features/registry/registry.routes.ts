// HTTP routes of the registry: import (CSV body or multipart file) and reads of regions and centres.
import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../../infra/errors.js';
import { problemResponses } from '../../infra/http/problems.js';
import { encodeCursor } from '../../infra/http/pagination.js';
import {
  centreDetailSchema, centreListQuery, centrePageSchema, codeParams, importSummarySchema, regionDetailSchema,
  regionListQuery, regionSchema,
} from './registry.schemas.js';
import { byteLimit, createRegistryService } from './registry.service.js';
import { z } from 'zod';

const REGISTRY_CSV_EXAMPLE =
  'state_code,state_name,municipality_code,municipality_name,parish_code,parish_name,centre_code,centre_name,table_number,registered_voters\n' +
  '01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101001,ESCUELA MADARIAGA,1,760\n';

export interface RegistryRoutesOptions {
  importMaxBytes: number;
}

export async function registryRoutes(app: FastifyInstance, options: RegistryRoutesOptions): Promise<void> {
  const service = createRegistryService(app.db.prisma);
  const route = app.withTypeProvider<ZodTypeProvider>();

  // The CSV body is handed to the route as a stream; the import reads it once, under its own size limit.
  app.addContentTypeParser(['text/csv', 'application/csv'], (_request, payload, done) => done(null, payload));
  await app.register(multipart, {
    limits: { fileSize: options.importMaxBytes, files: 1, fields: 5, fieldSize: 1024, parts: 6, headerPairs: 100 },
  });

  async function importStream(request: FastifyRequest): Promise<Readable> {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > options.importMaxBytes) throw new AppError('PAYLOAD_TOO_LARGE', `The file exceeds ${options.importMaxBytes} bytes`);
    if (request.isMultipart()) {
      for await (const part of request.parts()) {
        if (part.type === 'file' && part.fieldname === 'file') return part.file;
        if (part.type === 'file') part.file.resume();
      }
      throw new AppError('REGISTRY_FILE_MISSING', 'The multipart body has no part named "file"');
    }
    if (!request.body) throw new AppError('REGISTRY_FILE_MISSING', 'The request has no body');
    return (request.body as Readable).pipe(byteLimit(options.importMaxBytes));
  }

  const importTypes = /^(text\/csv|application\/csv|multipart\/form-data)\s*(;|$)/i;

  route.post(
    '/v1/registry/import',
    {
      // Decided before any body parser runs, so that JSON or anything else is a 415, not a parse error.
      onRequest: async (request) => {
        if (!importTypes.test(request.headers['content-type'] ?? '')) {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the registry as a text/csv body or a multipart/form-data part named "file"');
        }
      },
      config: {
        rawBody: {
          description: 'The registry CSV, one row per table (see the README), as a text/csv body or a multipart part named `file`.',
          content: {
            'text/csv': { schema: { type: 'string', examples: [REGISTRY_CSV_EXAMPLE] } },
            'multipart/form-data': {
              schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } }, required: ['file'] },
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
          'All or nothing: a file with any problem is rejected with every problem and its line number, and nothing is written. ' +
          'Re-importing the same file changes nothing; a corrected file updates names, addresses, coordinates and registered voters. Nothing is ever deleted.',
        response: { 200: importSummarySchema, ...problemResponses(400, 413, 415, 422, 503) },
      },
    },
    async (request) => {
      const summary = await service.importCsv(await importStream(request));
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
        response: { 200: z.object({ items: z.array(regionSchema) }), ...problemResponses(400, 404, 503) },
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
        response: { 200: regionDetailSchema, ...problemResponses(400, 404, 503) },
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
        response: { 200: centrePageSchema, ...problemResponses(400, 404, 503) },
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
        response: { 200: centreDetailSchema, ...problemResponses(400, 404, 503) },
      },
    },
    async (request) => service.getCentre(request.params.code),
  );
}
