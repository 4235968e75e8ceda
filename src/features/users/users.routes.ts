// HTTP routes of users, tokens, assignments, bulk onboarding and the caller (/v1/me).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, contextOf } from '../../infra/auth/actor.js';
import { encodeCursor } from '../../infra/http/pagination.js';
import { problemResponses } from '../../infra/http/problems.js';
import { acceptCsvStreams, requireCsvUpload, uploadedFile } from '../../infra/http/upload.js';
import {
  assignmentsBody,
  assignmentsResponse,
  createTokenBody,
  createUserBody,
  meSchema,
  newTokenSchema,
  tokenIdParams,
  tokenSchema,
  updateUserBody,
  userDetailSchema,
  userIdParams,
  userImportSchema,
  userListQuery,
  userPageSchema,
} from './users.schemas.js';

const managers = ['admin', 'coordinator'] as const;
const USERS_CSV_EXAMPLE =
  'external_id,name,phone,email,scope_region,centres\nV-12345678,Ana Pérez,+58 412 5550101,,0101,010101001;010101002\n';

export async function usersRoutes(app: FastifyInstance, options: { importMaxBytes: number }): Promise<void> {
  const service = app.services.users;
  const importObservers = app.services.importUsers;
  const route = app.withTypeProvider<ZodTypeProvider>();
  acceptCsvStreams(app);

  route.post(
    '/v1/users',
    {
      config: { roles: managers },
      schema: {
        tags: ['users'],
        operationId: 'users.create',
        summary: 'Create a user',
        description:
          'Admins create any role; coordinators create observers inside their region (the default scope of those observers).',
        body: createUserBody,
        response: { 201: userDetailSchema, ...problemResponses(400, 401, 403, 409, 422, 429) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(contextOf(request), request.body)),
  );

  route.get(
    '/v1/users',
    {
      config: { roles: managers },
      schema: {
        tags: ['users'],
        operationId: 'users.list',
        summary: 'List the users the caller manages',
        querystring: userListQuery,
        response: { 200: userPageSchema, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const { cursor, ...filter } = request.query;
      const page = await service.list(actorOf(request), { ...filter, after: cursor });
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  route.get(
    '/v1/users/:id',
    {
      schema: {
        tags: ['users'],
        operationId: 'users.get',
        summary: 'One user with assignments (yourself, or a user you manage)',
        params: userIdParams,
        response: { 200: userDetailSchema, ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => service.get(actorOf(request), request.params.id),
  );

  route.patch(
    '/v1/users/:id',
    {
      config: { roles: managers },
      schema: {
        tags: ['users'],
        operationId: 'users.update',
        summary: 'Change a user; `active: false` deactivates it and all its tokens',
        params: userIdParams,
        body: updateUserBody,
        response: { 200: userDetailSchema, ...problemResponses(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    async (request) => service.update(contextOf(request), request.params.id, request.body),
  );

  route.post(
    '/v1/users/:id/tokens',
    {
      config: { roles: managers },
      schema: {
        tags: ['users'],
        operationId: 'tokens.create',
        summary: 'Issue a bearer token to a user (shown once)',
        params: userIdParams,
        body: createTokenBody,
        response: { 201: newTokenSchema, ...problemResponses(400, 401, 403, 404, 422, 429) },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .header('cache-control', 'no-store')
        .send(await service.createToken(contextOf(request), request.params.id, request.body)),
  );

  route.get(
    '/v1/users/:id/tokens',
    {
      schema: {
        tags: ['users'],
        operationId: 'tokens.list',
        summary: "A user's tokens (never their secrets)",
        params: userIdParams,
        response: { 200: z.object({ items: z.array(tokenSchema) }), ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => ({ items: await service.listTokens(actorOf(request), request.params.id) }),
  );

  route.delete(
    '/v1/tokens/:id',
    {
      schema: {
        tags: ['users'],
        operationId: 'tokens.revoke',
        summary: 'Revoke a token (your own, or one of a user you manage)',
        params: tokenIdParams,
        response: { 204: z.null().meta({ description: 'Revoked' }), ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await service.revokeToken(contextOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  route.put(
    '/v1/users/:id/assignments',
    {
      config: { roles: managers },
      schema: {
        tags: ['users'],
        operationId: 'assignments.replace',
        summary: "Replace an observer's centres",
        params: userIdParams,
        body: assignmentsBody,
        response: { 200: assignmentsResponse, ...problemResponses(400, 401, 403, 404, 409, 422, 429) },
      },
    },
    async (request) => service.replaceAssignments(contextOf(request), request.params.id, request.body.centres),
  );

  route.get(
    '/v1/me',
    {
      schema: {
        tags: ['users'],
        operationId: 'me.get',
        summary: 'The caller, with assignments and the token in use',
        response: { 200: meSchema, ...problemResponses(401, 429) },
      },
    },
    async (request) => service.me(actorOf(request)),
  );

  route.post(
    '/v1/users/import',
    {
      preParsing: requireCsvUpload,
      bodyLimit: options.importMaxBytes,
      config: {
        roles: managers,
        rawBody: {
          description:
            'Observers, one per row: `external_id` and `name` required; `phone`, `email`, `scope_region` and `centres` ' +
            '(centre codes separated by `;`, `|` or spaces) optional. As a text/csv body or a multipart part named `file`.',
          content: {
            'text/csv': { schema: { type: 'string', examples: [USERS_CSV_EXAMPLE] } },
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
      schema: {
        tags: ['users'],
        operationId: 'users.import',
        summary: 'Create or update observers from a CSV; new observers get a token, shown once',
        description:
          'All or nothing, keyed on external_id. A new external_id creates an observer with a token (in `users[].token`). ' +
          'A known one updates name, contacts, scope and centres when they differ, and never issues a token: ' +
          're-importing the same file changes nothing. To give an existing observer a new token, use POST /v1/users/{id}/tokens.',
        response: { 200: userImportSchema, ...problemResponses(400, 401, 403, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      const result = await importObservers(contextOf(request), await uploadedFile(request, options.importMaxBytes));
      request.log.info(
        { event: 'users.imported', rows: result.rows, created: result.created, updated: result.updated },
        'observers imported',
      );
      return reply.header('cache-control', 'no-store').send(result);
    },
  );
}
