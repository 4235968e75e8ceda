// HTTP routes of the process analysis: a form's findings per question for the regions of a level, and for the
// country. Scoped like summaries (public with PUBLIC_SUMMARIES); strong ETags, If-None-Match gives 304.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { sendCached } from '../../infra/http/conditional.js';
import { serializeAsBuilt } from '../../infra/http/serialization.js';
import { summaryAccess, summaryFreshness } from '../summaries/summaries.routes.js';
import { analysisNationalQuery, analysisQuery, analysisSchema } from './analysis.schemas.js';

export async function analysisRoutes(app: FastifyInstance, options: { publicSummaries: boolean }): Promise<void> {
  const service = app.services.analysis;
  const route = app.withTypeProvider<ZodTypeProvider>();
  // The summaries' readers, public mode and cache headers: the same answers' rules, one mechanism.
  const { config, errors } = summaryAccess(options.publicSummaries);
  await summaryFreshness(app, options.publicSummaries);
  // Built to analysisSchema by the service (test/analysis checks answers against it): written as they are, like summaries.
  const serializerCompiler = serializeAsBuilt;
  const counted =
    'Each unit (a centre, or a table for forms about a table) counts with its latest unrejected report of the form ' +
    '(by observedAt, then receivedAt), in the version that report used; questions that version lacks are unanswered ' +
    'for it. Exact at every moment. Carries a strong ETag; send it back in If-None-Match to get 304.';

  route.get(
    '/v1/analysis',
    {
      config,
      serializerCompiler,
      schema: {
        tags: ['analysis'],
        operationId: 'analysis.list',
        summary: "A form's findings per question, for each region of a level",
        description: `Regions of \`level\` under \`parent\` (by default, the caller's scope); 404 NOT_FOUND for an unknown form or parent. ${counted}`,
        querystring: analysisQuery,
        response: { 200: analysisSchema, ...errors },
      },
    },
    async (request, reply) =>
      sendCached(reply, await service.list(request.actor, request.query, request.headers['if-none-match'])),
  );

  route.get(
    '/v1/analysis/national',
    {
      config,
      serializerCompiler,
      schema: {
        tags: ['analysis'],
        operationId: 'analysis.national',
        summary: "A form's findings per question for the whole country",
        description: `Needs a national scope (admins, national analysts and coordinators), or PUBLIC_SUMMARIES. One row. ${counted}`,
        querystring: analysisNationalQuery,
        response: { 200: analysisSchema, ...errors },
      },
    },
    async (request, reply) =>
      sendCached(reply, await service.national(request.actor, request.query, request.headers['if-none-match'])),
  );
}
