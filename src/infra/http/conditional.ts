// Conditional requests: whether an If-None-Match header matches an entity tag (summaries and photos answer 304).
/** Whether an If-None-Match header (a list of entity tags, or *) matches `tag`, compared weakly as RFC 9110 asks. */
export function noneMatch(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (value: string) => value.trim().replace(/^W\//, '');
  return header.split(',').some((candidate) => opaque(candidate) === opaque(tag));
}
