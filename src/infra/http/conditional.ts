// Conditional requests: whether an If-None-Match header matches an entity tag (summaries and photos answer 304),
// how a versioned cached answer (src/infra/cache/versioned.ts) is sent, and the Vary header that tells caches what
// else an answer depends on.
import type { FastifyReply } from 'fastify';
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
