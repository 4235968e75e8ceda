// HTTP routes of reports: submission (single and batch), revisions, reviews, reads and exports.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, contextOf } from '../../infra/auth/actor.js';
import { bodyValidationError } from '../../infra/errors.js';
import { concurrencyCap } from '../../infra/http/concurrency.js';
import { encodeCursor } from '../../infra/http/pagination.js';
import { problemDocument, problemResponses } from '../../infra/http/problems.js';
import { serializeAsBuilt } from '../../infra/http/serialization.js';
import { parseInput } from '../../infra/http/validation.js';
import { startExport } from './reports.export.js';
import type { ReportFilter } from './reports.repository.js';
import {
  acceptedReportSchema,
  batchInput,
  batchResult,
  reportDetailSchemaOf,
  reportExportQuery,
  reportIdParams,
  reportInput,
  reportListQuery,
  reportPageSchema,
  reviewedSchemaOf,
  reviewInput,
  revisedReportSchema,
  revisionInput,
  revisionSchema,
} from './reports.schemas.js';
import type { ReportInput } from './reports.service.js';

const writers = ['admin', 'coordinator', 'observer'] as const;
type BatchItem = z.infer<typeof batchResult>['results'][number];

function filterOf(query: z.infer<typeof reportExportQuery>): ReportFilter {
  return {
    region: query.region,
    centre: query.centre,
    table: query.table,
    kind: query.kind,
    review: query.review,
    flag: query.flag,
    observer: query.observer,
    since: query.since ? new Date(query.since) : undefined,
    until: query.until ? new Date(query.until) : undefined,
    time: query.time,
  };
}

export async function reportsRoutes(
  app: FastifyInstance,
  options: {
    batchMaxBytes: number;
    exportMaxConcurrent: number;
    /** The Photo answer of the photos feature, for the report detail (reports do not import photos). */
    photoSchema: z.ZodType;
  },
): Promise<void> {
  const reportDetailSchema = reportDetailSchemaOf(options.photoSchema);
  const reviewedSchema = reviewedSchemaOf(options.photoSchema);
  const service = app.services.reports;
  // Exports run only so many at once, so that observers' writes keep their connections.
  const exports = concurrencyCap('exports', options.exportMaxConcurrent);
  const route = app.withTypeProvider<ZodTypeProvider>();
  // The answers of submissions are built to their schemas (toReport, the log's receipts, problemDocument; the
  // reports tests check every kind of answer against them): zod's re-check took 25–40 µs a report.
  const serializerCompiler = serializeAsBuilt;
  route.post(
    '/v1/reports',
    {
      config: { roles: writers },
      serializerCompiler,
      schema: {
        tags: ['reports'],
        operationId: 'reports.create',
        summary: 'Submit a report (retry-safe)',
        description:
          '201 with the stored report. The same `id` with the same content again — a retry — is 200 with the same ' +
          'report, however often and by whoever may read it; the same `id` with other content is 409 REPORT_CONFLICT ' +
          'naming the differing fields. A caller who may not read the stored report gets 409 REPORT_CONFLICT without ' +
          "`fields` whatever the body. Both carry `receipt`, the log's receipt of the report's entry, byte-identical " +
          'on every replay.',
        body: reportInput,
        response: {
          200: acceptedReportSchema,
          201: acceptedReportSchema,
          ...problemResponses(400, 401, 403, 409, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const result = await service.submit(contextOf(request), request.body);
      if (result.status === 'created')
        request.log.info(
          { event: 'report.accepted', reportId: result.report.id, kind: result.report.kind },
          'report accepted',
        );
      return reply.code(result.status === 'created' ? 201 : 200).send({ ...result.report, receipt: result.receipt });
    },
  );

  route.post(
    '/v1/reports/batch',
    {
      bodyLimit: options.batchMaxBytes,
      config: { roles: writers },
      serializerCompiler,
      schema: {
        tags: ['reports'],
        operationId: 'reports.batch',
        summary: 'Submit up to 500 reports, each on its own',
        description:
          'Each item gets its own status (created, replayed, conflict, invalid with its problem, or error with a 5xx ' +
          'problem when the server failed on it: send that item again later); one bad item never sinks the others, ' +
          'and the batch answers 200.',
        body: batchInput,
        response: { 200: batchResult, ...problemResponses(400, 401, 403, 413, 429) },
      },
    },
    async (request) => {
      const parse = (item: unknown): ReportInput => {
        const parsed = parseInput(reportInput, item);
        if (!parsed.success) throw bodyValidationError(parsed.error.issues);
        return parsed.data;
      };
      const outcomes = await service.submitBatch(contextOf(request), request.body.reports, parse);
      const results = outcomes.map((outcome): BatchItem => {
        if (!('problem' in outcome)) return outcome;
        const { problem, cause, ...rest } = outcome;
        if (problem.status >= 500)
          request.log.error(
            { err: cause, code: problem.code, index: outcome.index, reportId: outcome.id },
            'report batch item failed',
          );
        return { ...rest, problem: problemDocument(request, problem) };
      });
      const created = results.filter((result) => result.status === 'created').length;
      const replayed = results.filter((result) => result.status === 'replayed').length;
      const errors = results.filter((result) => result.status === 'error').length;
      request.log.info({ event: 'reports.batch', items: results.length, created, replayed, errors }, 'report batch');
      return { created, replayed, failed: results.length - created - replayed, results };
    },
  );

  route.get(
    '/v1/reports',
    {
      schema: {
        tags: ['reports'],
        operationId: 'reports.list',
        summary: 'Reports the caller may read, newest first',
        description:
          'Ordered by receivedAt then id, newest first: reports that arrive while a client pages never shift the ' +
          'pages after the first.',
        querystring: reportListQuery,
        response: { 200: reportPageSchema, ...problemResponses(400, 401, 429) },
      },
    },
    async (request) => {
      const { cursor, limit, ...query } = request.query;
      const page = await service.list(
        actorOf(request),
        {
          ...filterOf({ ...query, format: 'ndjson' }),
          before: cursor ? { at: new Date(cursor.at), id: cursor.id } : undefined,
        },
        limit,
      );
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  route.get(
    '/v1/reports/export',
    {
      config: {
        rawResponse: {
          description:
            'The reports, newest first: NDJSON (one Report per line) or CSV (one column per answer field of the ' +
            'built-in forms and per candidate, then one per question of each other form, across its versions)',
          content: {
            'application/x-ndjson': { schema: { type: 'string' } },
            'text/csv': { schema: { type: 'string' } },
          },
        },
      },
      schema: {
        tags: ['reports'],
        operationId: 'reports.export',
        summary: 'Every report matching the filters, streamed as NDJSON or CSV',
        description:
          'A complete NDJSON export ends with the line `{"complete":true,"rows":N}`; a complete CSV export ends with ' +
          'the HTTP trailer `X-Export-Rows: N` (announced in the `Trailer` header). Without them the export was cut: ' +
          'fetch it again. At most `EXPORT_MAX_CONCURRENT` exports run at once per server; beyond, 503 ' +
          '`SERVICE_OVERLOADED` with `Retry-After`.',
        querystring: reportExportQuery,
        response: {
          200: z.string().meta({ description: 'application/x-ndjson, or text/csv with the answers flattened' }),
          ...problemResponses(400, 401, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const release = exports.enter();
      try {
        const candidates = ((await app.services.election.find())?.candidates ?? []).map((candidate) => candidate.code);
        const forms = await app.services.forms.definitions();
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const csv = request.query.format === 'csv';
        const exported = await startExport(
          service,
          actorOf(request),
          filterOf(request.query),
          request.query.format,
          candidates,
          forms,
        );
        // The place is given back when the body has ended, or the client went away (the stream is destroyed).
        exported.stream.once('close', release);
        // Sent only after the last row: a CSV without it was cut.
        if (csv) reply.trailer('x-export-rows', async () => String(exported.rows()));
        return reply
          .type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
          .header('content-disposition', `attachment; filename="reports-${stamp}.${csv ? 'csv' : 'ndjson'}"`)
          .send(exported.stream as unknown as string);
      } catch (error) {
        release();
        throw error;
      }
    },
  );

  route.get(
    '/v1/reports/:id',
    {
      schema: {
        tags: ['reports'],
        operationId: 'reports.get',
        summary: 'One report, as last revised, with its reviews',
        params: reportIdParams,
        response: { 200: reportDetailSchema, ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => service.get(actorOf(request), request.params.id),
  );

  route.get(
    '/v1/reports/:id/revisions',
    {
      schema: {
        tags: ['reports'],
        operationId: 'reports.revisions',
        summary: 'Every version of a report, the original first',
        params: reportIdParams,
        response: { 200: z.object({ items: z.array(revisionSchema) }), ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => ({ items: await service.revisions(actorOf(request), request.params.id) }),
  );

  route.post(
    '/v1/reports/:id/revisions',
    {
      config: { roles: writers },
      schema: {
        tags: ['reports'],
        operationId: 'reports.revise',
        summary: 'Correct a report with a reason (the author, or a coordinator in scope)',
        description:
          'Adds a revision; the report shows the latest. Sending the current content again changes nothing (200). ' +
          "`receipt` is the log's receipt of the current revision's entry (the original's: the report's).",
        params: reportIdParams,
        body: revisionInput,
        response: {
          200: revisedReportSchema,
          201: revisedReportSchema,
          ...problemResponses(400, 401, 403, 404, 409, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const result = await service.revise(contextOf(request), request.params.id, request.body);
      return reply.code(result.status === 'created' ? 201 : 200).send({ ...result.report, receipt: result.receipt });
    },
  );

  route.post(
    '/v1/reports/:id/review',
    {
      config: { roles: ['admin', 'coordinator'] },
      schema: {
        tags: ['reports'],
        operationId: 'reports.review',
        summary: 'Verify, flag or reject a report',
        description:
          'Judges the current revision (a revision resets the report to unreviewed); the review records it. 403 ' +
          'REVIEW_NOT_ALLOWED for whoever submitted or revised the report. The state it already has is 200 with the ' +
          "report as it is, recording nothing. `receipt` is the log's receipt of the report's latest review.",
        params: reportIdParams,
        body: reviewInput,
        response: { 200: reviewedSchema, ...problemResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => service.review(contextOf(request), request.params.id, request.body),
  );
}
