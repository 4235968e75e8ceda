// A short-lived, per-process cache of token lookups, emptied for a user the moment anything that decides
// their access changes (token revoked, user deactivated, role or scope changed): the change NOTIFYs
// `testigo_auth` in its transaction, and every process LISTENs (src/infra/db/listener.ts). While the listening connection is down
// the cache is off, so a missed notification can never keep a revoked token alive.
// A lookup reads the database and then caches what it read: a notification handled in between would be
// undone by that set. So each forget bumps the user's generation (a global sequence number), a lookup
// takes mark() before its read, and set() drops what was read before the user's last forget.
import type { Db } from '../db/client.js';
import { type Listener, notify } from '../db/listener.js';
import type { Actor } from './actor.js';

export const AUTH_CHANNEL = 'testigo_auth';
const MAX_ENTRIES = 100_000;

interface Entry {
  actor: Actor;
  tokenExpiresAt: number | null;
  cachedUntil: number;
}

/** Tells every process (this one included) that `userId`'s access changed; takes effect at commit. */
export async function notifyAccessChanged(tx: Db, userIds: string[]): Promise<void> {
  await notify(tx, AUTH_CHANNEL, userIds);
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every forget; the generation of a user is the sequence number of its last forget. */
  private sequence = 0;
  private readonly generations = new Map<string, number>();
  /** Reads marked before this may not be cached (generations were dropped, or notifications missed). */
  private floor = 0;

  constructor(private readonly options: { listener: Listener; ttlMs: number }) {
    if (options.ttlMs <= 0) return;
    options.listener.subscribe(AUTH_CHANNEL, {
      notified: (userId) => {
        if (userId) this.forgetUser(userId);
      },
      reset: () => {
        this.entries.clear();
        this.sequence += 1;
        this.invalidateReads();
      },
    });
  }

  get enabled(): boolean {
    return this.options.ttlMs > 0 && this.options.listener.listening;
  }

  get(hash: string): Actor | undefined {
    if (!this.enabled) return undefined;
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    const now = Date.now();
    if (entry.cachedUntil <= now || (entry.tokenExpiresAt !== null && entry.tokenExpiresAt <= now)) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.actor;
  }

  /** Take before reading a token from the database; pass to set(). */
  mark(): number {
    return this.sequence;
  }

  /** Whether `userId`'s access may have changed since `mark` (then what was read after it is stale). */
  changedSince(userId: string, mark: number): boolean {
    return mark < this.floor || (this.generations.get(userId) ?? 0) > mark;
  }

  /** Caches a lookup read after `mark`, unless the user's access changed since. */
  set(hash: string, actor: Actor, tokenExpiresAt: Date | null, mark: number): void {
    if (!this.enabled || this.changedSince(actor.userId, mark)) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(hash, {
      actor,
      tokenExpiresAt: tokenExpiresAt?.getTime() ?? null,
      cachedUntil: Date.now() + this.options.ttlMs,
    });
  }

  forgetUser(userId: string): void {
    this.sequence += 1;
    if (this.generations.size >= MAX_ENTRIES) this.invalidateReads();
    this.generations.set(userId, this.sequence);
    for (const [hash, entry] of this.entries) if (entry.actor.userId === userId) this.entries.delete(hash);
  }

  /** Every read marked until now may be stale: none of them will be cached. */
  private invalidateReads(): void {
    this.generations.clear();
    this.floor = this.sequence;
  }
}
