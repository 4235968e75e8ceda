// HTTP routes of the log: the latest signed checkpoint, the verifier key, inclusion and consistency proofs,
// entries, C2SP tlog-tiles, and the audit (admins). Readable by every authenticated role; public with PUBLIC_LOG.
import type { FastifyContextConfig, FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../../infra/http/problems.js';
import {
  auditSchema,
  consistencyQuery,
  consistencySchema,
  entriesQuery,
  entriesSchema,
  inclusionQuery,
  inclusionSchema,
} from './log.schemas.js';

const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });

export async function logRoutes(app: FastifyInstance, options: { publicLog: boolean }): Promise<void> {
  const service = app.services.log;
  const route = app.withTypeProvider<ZodTypeProvider>();
  const open = options.publicLog;
  const config: FastifyContextConfig = open ? { public: true } : {};
  const errors = (...statuses: number[]) => problemResponses(...(open ? statuses : [...statuses, 401]), 429);
  const tags = ['log'];

  route.get(
    '/v1/log/checkpoint',
    {
      config: { ...config, rawResponse: text('The latest checkpoint (C2SP tlog-checkpoint) as a C2SP signed note') },
      schema: {
        tags,
        operationId: 'log.checkpoint',
        summary: 'The latest signed checkpoint',
        response: { 200: z.string(), ...errors() },
      },
    },
    async (_request, reply) =>
      reply
        .type('text/plain; charset=utf-8')
        .header('cache-control', 'no-cache')
        .send(await service.checkpoint()),
  );

  route.get(
    '/v1/log/key',
    {
      config: { ...config, rawResponse: text('The verifier key: <name>+<hex key id>+<base64(0x01 ‖ public key)>') },
      schema: {
        tags,
        operationId: 'log.key',
        summary: "The log's verifier key (C2SP signed-note)",
        response: { 200: z.string(), ...errors() },
      },
    },
    async (_request, reply) => reply.type('text/plain; charset=utf-8').send(`${service.verifierKey}\n`),
  );

  route.get(
    '/v1/log/proof/inclusion',
    {
      config,
      schema: {
        tags,
        operationId: 'log.inclusionProof',
        summary: 'The inclusion proof of a leaf (by index or leaf hash) in a signed tree',
        description: "RFC 9162 §2.1.3. `size` defaults to the latest checkpoint's.",
        querystring: inclusionQuery,
        response: { 200: inclusionSchema, ...errors(400, 404) },
      },
    },
    async (request) =>
      service.inclusion({
        index: request.query.index,
        size: request.query.size,
        leafHash: request.query.leafHash ? Buffer.from(request.query.leafHash, 'base64') : undefined,
      }),
  );

  route.get(
    '/v1/log/proof/consistency',
    {
      config,
      schema: {
        tags,
        operationId: 'log.consistencyProof',
        summary: 'The consistency proof between two signed tree sizes',
        description: "RFC 9162 §2.1.4. `to` defaults to the latest checkpoint's size.",
        querystring: consistencyQuery,
        response: { 200: consistencySchema, ...errors(400) },
      },
    },
    async (request) => service.consistency(request.query.from, request.query.to),
  );

  route.get(
    '/v1/log/entries',
    {
      config,
      schema: {
        tags,
        operationId: 'log.entries',
        summary: 'Entries [start, end) of the log (at most 1,000)',
        querystring: entriesQuery,
        response: { 200: entriesSchema, ...errors(400) },
      },
    },
    async (request) => service.entries(request.query.start, request.query.end),
  );

  route.get(
    '/v1/log/tile/*',
    {
      config: {
        ...config,
        rawResponse: {
          description: 'A C2SP tlog-tiles hash tile or entry bundle',
          content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
        },
      },
      schema: {
        tags,
        operationId: 'log.tile',
        summary: 'C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]',
        description:
          'Hash tiles of height 8 and entry bundles, for sizes up to the latest checkpoint. Full tiles never change ' +
          '(`Cache-Control: public, max-age=31536000, immutable`); partial ones are cached briefly.',
        params: z.object({ '*': z.string().max(100) }),
        response: { 200: z.string(), ...errors(404) },
      },
    },
    async (request, typedReply) => {
      const reply = typedReply as unknown as FastifyReply;
      const tile = await service.tile(`tile/${request.params['*']}`);
      return reply
        .type('application/octet-stream')
        .header('cache-control', tile.full ? 'public, max-age=31536000, immutable' : 'public, max-age=5')
        .send(tile.body);
    },
  );

  route.get(
    '/v1/log/audit',
    {
      config: { roles: ['admin'] },
      schema: {
        tags,
        operationId: 'log.audit',
        summary: 'Checks the rows against the log, and the log against its checkpoints (admins)',
        description:
          'Every stored row is recomputed into its entry and compared with its leaf (and every report with its latest ' +
          'revision); the tree is checked from the last checkpoint this server verified: the consistency proof to the ' +
          'latest, the leaves and nodes appended since, and the signatures of the checkpoints since. The first call ' +
          'of a server rebuilds the whole tree.',
        response: { 200: auditSchema, ...problemResponses(401, 403, 429) },
      },
    },
    async (request) => {
      const outcome = await service.audit();
      if (!outcome.ok)
        request.log.error(
          { event: 'log.audit_failed', problems: outcome.problems.length },
          'the log audit found problems',
        );
      const { head: _head, ...answer } = outcome;
      return answer;
    },
  );
}
