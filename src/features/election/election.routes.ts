// The election being observed: PUT (admins) sets its name, date, time zone and candidates; GET reads it.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { contextOf } from '../../infra/auth/actor.js';
import { problemResponses } from '../../infra/http/problems.js';
import { electionBody, electionSchema } from './election.schemas.js';

export async function electionRoutes(app: FastifyInstance, options: { publicElection?: boolean } = {}): Promise<void> {
  const service = app.services.election;
  const route = app.withTypeProvider<ZodTypeProvider>();

  route.get(
    '/v1/election',
    {
      // With PUBLIC_SUMMARIES the public reads the results, so it may read whom they are for.
      config: options.publicElection ? { public: true } : {},
      schema: {
        tags: ['election'],
        operationId: 'election.get',
        summary: 'The election being observed',
        response: { 200: electionSchema, ...problemResponses(401, 409, 429) },
      },
    },
    async () => service.get(),
  );

  route.put(
    '/v1/election',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['election'],
        operationId: 'election.put',
        summary: 'Set the election and its candidates',
        description:
          'Candidates may be added or renamed at any time; one that results reports count votes for cannot be removed.',
        body: electionBody,
        response: { 200: electionSchema, ...problemResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request) => service.put(contextOf(request), request.body),
  );
}
