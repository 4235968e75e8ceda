// The election being observed: PUT (admins) sets its name, date, time zone and candidates; GET reads it.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { dayInput } from '../../infra/http/validation.js';
import { contextOf } from '../../infra/auth/actor.js';
import { problemResponses } from '../../infra/http/problems.js';
import { createElectionService } from './election.service.js';

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

export const candidateSchema = z
  .strictObject({
    code: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and -, at most 32'),
    name: z.string().trim().min(1).max(200),
    party: z.string().trim().min(1).max(200).optional(),
  })
  .meta({ id: 'Candidate' });

export const electionBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    date: dayInput().meta({ description: 'Election day, YYYY-MM-DD' }),
    timeZone: z.string().refine(isTimeZone, 'an IANA time zone such as America/Caracas'),
    openingTime: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time HH:MM').default('06:00')
      .meta({ description: 'When centres should open (HH:MM in timeZone); summaries count centres that opened by then as on time' }),
    candidates: z.array(candidateSchema).min(1).max(200).refine((list) => new Set(list.map((c) => c.code)).size === list.length, 'candidate codes repeat'),
  })
  .meta({ id: 'SetElection' });

export const electionSchema = electionBody.extend({ updatedAt: z.iso.datetime() }).meta({ id: 'Election' });

export async function electionRoutes(app: FastifyInstance): Promise<void> {
  const service = createElectionService(app.db.prisma);
  const route = app.withTypeProvider<ZodTypeProvider>();

  route.get(
    '/v1/election',
    {
      schema: {
        tags: ['election'], operationId: 'election.get', summary: 'The election being observed',
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
        tags: ['election'], operationId: 'election.put', summary: 'Set the election and its candidates',
        description: 'Candidates may be added or renamed at any time; one that results reports count votes for cannot be removed.',
        body: electionBody,
        response: { 200: electionSchema, ...problemResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request) => service.put(contextOf(request), request.body),
  );
}
