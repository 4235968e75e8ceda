// Conditional requests: whether an If-None-Match header matches an entity tag (summaries and photos answer 304),
// and the Vary header that tells caches what else an answer depends on.
import type { FastifyReply } from 'fastify';
import vary from 'vary';

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
