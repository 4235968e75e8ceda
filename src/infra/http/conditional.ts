// Conditional requests: whether an If-None-Match header matches an entity tag (summaries and photos answer 304),
// how a versioned cached answer (src/infra/cache/versioned.ts) is sent, and the Vary header that tells caches what
// else an answer depends on.
import etag from '@fastify/etag';
import type { FastifyInstance, FastifyReply } from 'fastify';
import vary from 'vary';
import type { CachedAnswer, NotModified } from '../cache/versioned.js';

/** Adds `field` to the reply's Vary header, keeping what is there (RFC 9110 §12.5.5; the `vary` library). */
export function addVary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  reply.header('vary', vary.append(Array.isArray(current) ? current.join(', ') : String(current ?? ''), field));
}

/** Whether an If-None-Match header (a list of entity tags, or *) matches `tag`, compared weakly as RFC 9110 asks. */
export function noneMatch(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (value: string) => value.trim().replace(/^W\//, '');
  return header.split(',').some((candidate) => opaque(candidate) === opaque(tag));
}

/** A cached answer as it was serialised (JSON), or 304 with its tag when the caller's If-None-Match still holds. */
export function sendCached(reply: FastifyReply, answer: CachedAnswer | NotModified): FastifyReply {
  reply.header('etag', answer.etag);
  if ('notModified' in answer) return reply.code(304).send();
  return reply.type('application/json; charset=utf-8').send(answer.body);
}

/**
 * Strong ETags on the 200 answers of the routes registered in `app`'s context, 304 when If-None-Match matches,
 * and the cache headers of answers that are the same for everyone (`open`) or depend on the caller's token.
 * (The process analysis uses it; summaries.routes.ts still has its own copy of the same hook.)
 */
export async function conditionalAnswers(app: FastifyInstance, open: boolean): Promise<void> {
  await app.register(etag, { replyWith304: false });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('cache-control', open ? 'public, no-cache' : 'private, no-cache');
    if (!open) reply.header('vary', 'authorization');
    const tag = reply.getHeader('etag');
    if (reply.statusCode === 200 && typeof tag === 'string' && noneMatch(request.headers['if-none-match'], tag)) {
      reply.code(304);
      return '';
    }
    return payload;
  });
}
