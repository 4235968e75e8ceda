// Answers cached by a version of the data they are computed from (for summaries: the tallies' version,
// testigo_tallies_version()). Exact at every moment, because
//   - each read learns the version from a snapshot taken after it arrived (versionClock: concurrent readers
//     share one lookup, but a reader only joins a lookup that starts after it arrived, never one in flight);
//   - a miss computes the answer and its version in one snapshot (the `compute` given reads both), so a
//     cached body is exactly the data at its version;
//   - the version increases with every committed change, so an answer cached at version v is the answer for
//     every reader that learns v.
// The ETag is the version and a hash of the query and the caller's scope: a matching If-None-Match costs only
// the version lookup. The LRU is lru-cache (bounded by entries and bytes).
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { noneMatch } from '../http/conditional.js';

/** A coalesced lookup of a version: one query per round trip however many readers wait. */
export interface VersionClock {
  /** A version read from a snapshot taken after this call. */
  current(): Promise<number>;
  /** Lookups made so far (tests, metrics). */
  readonly lookups: number;
}

export function versionClock(lookup: () => Promise<number>): VersionClock {
  let inFlight: Promise<number> | undefined;
  let next: Promise<number> | undefined;
  let lookups = 0;
  const start = (): Promise<number> => {
    lookups += 1;
    const running = lookup().finally(() => {
      if (inFlight === running) inFlight = undefined;
    });
    inFlight = running;
    return running;
  };
  return {
    get lookups() {
      return lookups;
    },
    current() {
      if (!inFlight) return start();
      // A lookup is in flight: its snapshot may predate this call, so wait for the next one (shared by
      // everyone who arrives meanwhile), which starts when this one ends, successful or not.
      next ??= inFlight
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          next = undefined;
          return start();
        });
      return next;
    },
  };
}

/** An answer as served: its serialised body, the version it was computed at, and its entity tag. */
export interface CachedAnswer {
  version: number;
  body: Buffer;
  etag: string;
}

/** A conditional read whose tag still holds: nothing computed. */
export interface NotModified {
  notModified: true;
  version: number;
  etag: string;
}

export interface AnswerRequest {
  /** The answer's kind, e.g. 'summaries.list'. */
  name: string;
  /** The normalised query (after validation and defaults): same answer ⇔ same JSON. */
  query: unknown;
  /** What the caller may see (e.g. 'public', 'admin', 'coordinator:VE-01'): callers with the same scope share answers. */
  scope: string;
}

/** JSON with object keys sorted (dates as ISO strings), so that equal queries give equal keys. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item && typeof item === 'object' && !Array.isArray(item) && !(item instanceof Date)) {
      return Object.fromEntries(
        Object.entries(item as Record<string, unknown>)
          .filter(([, v]) => v !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return item;
  });
}

export interface VersionedCache {
  readonly clock: VersionClock;
  /**
   * The answer to `request` for a reader that has just arrived: NotModified when `ifNoneMatch` matches
   * the current version's tag (no computation), else the cached answer at the current version, computed
   * once by `compute` (concurrent misses of one key share it) — which must return the value together with
   * the version read in the same snapshot.
   */
  answer(
    request: AnswerRequest,
    compute: () => Promise<{ version: number; value: unknown }>,
    ifNoneMatch?: string | undefined,
  ): Promise<CachedAnswer | NotModified>;
  /** The answer at version `version` or later, without a conditional check (the stream's use). */
  at(
    request: AnswerRequest,
    version: number,
    compute: () => Promise<{ version: number; value: unknown }>,
  ): Promise<CachedAnswer>;
  /** Entries held now, and answers computed so far (tests, metrics). */
  readonly size: number;
  readonly computed: number;
}

export function createVersionedCache(options: {
  clock: VersionClock;
  /** At most this many answers… */
  maxEntries?: number;
  /** …and this many bytes of bodies. */
  maxBytes?: number;
}): VersionedCache {
  const { clock } = options;
  const cache = new LRUCache<string, CachedAnswer>({
    max: options.maxEntries ?? 2000,
    maxSize: options.maxBytes ?? 64 * 1024 * 1024,
    sizeCalculation: (answer) => Math.max(1, answer.body.length),
  });
  const computing = new Map<string, Promise<CachedAnswer>>();
  let computed = 0;
  const keyOf = (request: AnswerRequest) =>
    createHash('sha1')
      .update(`${request.name}\n${request.scope}\n${canonicalJson(request.query ?? null)}`)
      .digest('base64url')
      .slice(0, 16);
  const tagOf = (version: number, key: string) => `"${version}-${key}"`;

  async function at(
    request: AnswerRequest,
    version: number,
    compute: () => Promise<{ version: number; value: unknown }>,
    key = keyOf(request),
  ): Promise<CachedAnswer> {
    const slot = `${version}:${key}`;
    const hit = cache.get(slot);
    if (hit) return hit;
    let pending = computing.get(slot);
    if (!pending) {
      computed += 1;
      pending = compute()
        .then(({ version: seen, value }) => {
          const answer = { version: seen, body: Buffer.from(JSON.stringify(value)), etag: tagOf(seen, key) };
          // Computed at `seen` ≥ `version` (a snapshot taken after the lookup): exact at `seen`, and for
          // anyone who learnt `version` (they arrived before that snapshot) too.
          cache.set(`${seen}:${key}`, answer);
          if (seen !== version) cache.set(slot, answer);
          return answer;
        })
        .finally(() => computing.delete(slot));
      computing.set(slot, pending);
    }
    return pending;
  }

  return {
    clock,
    get size() {
      return cache.size;
    },
    get computed() {
      return computed;
    },
    at: (request, version, compute) => at(request, version, compute),
    async answer(request, compute, ifNoneMatch) {
      const version = await clock.current();
      const key = keyOf(request);
      const etag = tagOf(version, key);
      if (noneMatch(ifNoneMatch, etag)) return { notModified: true, version, etag };
      return at(request, version, compute, key);
    },
  };
}
