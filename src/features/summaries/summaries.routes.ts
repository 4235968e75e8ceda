// HTTP routes of summaries: per region, national, the timeline and the centres still missing a report.
// Answers come from the cache keyed by the tallies' version (src/infra/cache/versioned.ts) and carry a strong
// ETag (that version and a hash of query and scope); If-None-Match gives 304 at the cost of the version lookup.
import etag from '@fastify/etag';
import type { FastifyContextConfig, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../../infra/auth/actor.js';
import { addVary, noneMatch, sendCached } from '../../infra/http/conditional.js';
import { problemResponses } from '../../infra/http/problems.js';
import { serializeAsBuilt } from '../../infra/http/serialization.js';
import {
  missingQuery,
  missingSchema,
  nationalQuery,
  nationalSchema,
  summaryListSchema,
  summaryQuery,
  timelineQuery,
  timelineSchema,
} from './summaries.schemas.js';

const readers = ['admin', 'coordinator', 'analyst'] as const;

/**
 * Who may read summaries, as a route's `config` and its error responses: anyone with PUBLIC_SUMMARIES, else
 * admins, coordinators and analysts (each within their scope, which the service applies). Also used by the
 * summaries' other shapes (the GeoJSON maps of src/features/geo), so that they are scoped exactly alike.
 */
export function summaryAccess(publicSummaries: boolean) {
  // Public summaries are the same for everyone; private ones depend on the caller's scope.
  const config: FastifyContextConfig = publicSummaries ? { public: true } : { roles: readers };
  const errors = publicSummaries
    ? problemResponses(400, 404, 429, 503)
    : problemResponses(400, 401, 403, 404, 429, 503);
  return { config, errors };
}

/**
 * Freshness of summary answers in the plugin `app`: a strong ETag (a hash of the exact body), If-None-Match → 304,
 * `Cache-Control: no-cache` (public or private) and, unless public, `Vary: Authorization`.
 */
export async function summaryFreshness(app: FastifyInstance, publicSummaries: boolean): Promise<void> {
  await app.register(etag, { replyWith304: false });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('cache-control', publicSummaries ? 'public, no-cache' : 'private, no-cache');
    if (!publicSummaries) addVary(reply, 'authorization');
    const tag = reply.getHeader('etag');
    if (reply.statusCode === 200 && typeof tag === 'string' && noneMatch(request.headers['if-none-match'], tag)) {
      reply.code(304);
      return '';
    }
    return payload;
  });
}

export async function summariesRoutes(app: FastifyInstance, options: { publicSummaries: boolean }): Promise<void> {
  const service = app.services.summaries;
  const route = app.withTypeProvider<ZodTypeProvider>();
  const { config, errors } = summaryAccess(options.publicSummaries);
  await summaryFreshness(app, options.publicSummaries);

  const freshness =
    "Carries a strong ETag (the tallies' version and a hash of the query and the caller's scope); send it back " +
    'in If-None-Match to get 304 while nothing changed (that costs no recount). Served from a cache keyed by ' +
    "the tallies' version: exact at every moment.";
  const send = sendCached;

  // Dashboards poll these all day: the answers are built by toSummary and friends to the schemas above
  // (test/summaries checks every answer against them), so they are written with JSON.stringify rather
  // than checked again by zod on the way out, which cost more than the query (6 of 14 ms for the states).
  const serializerCompiler = serializeAsBuilt;

  route.get(
    '/v1/summaries',
    {
      config,
      serializerCompiler,
      schema: {
        tags: ['summaries'],
        operationId: 'summaries.list',
        summary: 'One summary per region (or centre) at a level',
        description:
          "Regions of `level` under `parent` (by default, the caller's scope). Without `since`/`until` the live " +
          'picture, exact at every moment; with them, a recount of the reports received in that window. ' +
          '`level=centre` needs a `parent`, and so does a recount at any level below `state` (400 VALIDATION_FAILED ' +
          `naming \`parent\`): no answer holds every centre of the country. ${freshness}`,
        querystring: summaryQuery,
        response: { 200: summaryListSchema, ...errors },
      },
    },
    async (request, reply) =>
      send(reply, await service.cached('list', request.headers['if-none-match'], request.actor, request.query)),
  );

  route.get(
    '/v1/summaries/national',
    {
      config,
      serializerCompiler,
      schema: {
        tags: ['summaries'],
        operationId: 'summaries.national',
        summary: 'The summary of the whole country',
        description:
          'Needs a national scope (admins, national analysts and coordinators), or PUBLIC_SUMMARIES. ' + freshness,
        querystring: nationalQuery,
        response: { 200: nationalSchema, ...errors },
      },
    },
    async (request, reply) =>
      send(reply, await service.cached('national', request.headers['if-none-match'], request.actor, request.query)),
  );

  const streams = app.services.summaryStreams;
  app.addHook('preClose', async () => streams.close());
  route.get(
    '/v1/summaries/stream',
    {
      config,
      schema: {
        tags: ['summaries'],
        operationId: 'summaries.stream',
        summary: 'Server-Sent Events: the national and state rows whenever the tallies change',
        description:
          "`text/event-stream`. Event `summary`, `id:` the tallies' version, `data:` " +
          '`{"version": n, "national": <as GET /v1/summaries/national, or null without a national scope>, ' +
          '"states": [<the items of GET /v1/summaries?level=state>]}`. Sent on connect (with `Last-Event-ID` ' +
          'equal to the current version: at the next change; older: at once), then at each change, at most one ' +
          'per STREAM_MIN_INTERVAL_MS (latest state wins). A comment `: heartbeat` every STREAM_HEARTBEAT_MS. ' +
          'Open streams are limited per token (STREAM_MAX_PER_TOKEN) and per address (STREAM_MAX_PER_IP): ' +
          '429 TOO_MANY_STREAMS with Retry-After.',
        response: {
          200: z.string().describe('text/event-stream'),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      await streams.open(request, reply, request.actor);
      return reply;
    },
  );

  route.get(
    '/v1/summaries/timeline',
    {
      config,
      schema: {
        tags: ['summaries'],
        operationId: 'summaries.timeline',
        summary: 'Reports received per 15 minutes or hour',
        description: `Oldest bucket first, paged by \`cursor\`. ${freshness}`,
        querystring: timelineQuery,
        response: { 200: timelineSchema, ...errors },
      },
    },
    async (request, reply) =>
      send(reply, await service.cached('timeline', request.headers['if-none-match'], request.actor, request.query)),
  );

  route.get(
    '/v1/summaries/missing',
    {
      // Names observers: never public. Analysts see who, coordinators and admins also how to reach them.
      config: { roles: readers },
      schema: {
        tags: ['summaries'],
        operationId: 'summaries.missing',
        summary: 'Centres that have not sent a kind of report yet, with their observers',
        description:
          'A centre counts as missing until it has an unrejected report of `kind`. By centre code, paged by ' +
          `\`cursor\`. ${freshness}`,
        querystring: missingQuery,
        response: { 200: missingSchema, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) =>
      send(reply, await service.cached('missing', request.headers['if-none-match'], actorOf(request), request.query)),
  );
}
