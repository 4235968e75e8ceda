// The election singleton: read by report validation (candidates), photos (time zone) and summaries, set by
// admins. The one cache of it lives here, emptied in every process the moment it changes (LISTEN/NOTIFY
// through infra's listener); while that connection is down the cache is off.
import type { RequestContext } from '../../infra/auth/actor.js';
import type { Listener } from '../../infra/db/listener.js';
import { AppError } from '../../infra/errors.js';
import { ELECTION_CHANNEL, type Election, type ElectionRepository } from './election.repository.js';

export type { Candidate, Election } from './election.repository.js';

export function createElectionService(deps: {
  repo: ElectionRepository;
  /** Without one (the CLI), nothing is cached. */
  listener?: Pick<Listener, 'listening' | 'subscribe'>;
}) {
  const { repo, listener } = deps;
  let cached: { value: Election | undefined } | undefined;
  // Bumped by every change: a read that started before one is not cached (it may predate the change).
  let generation = 0;
  const forget = () => {
    generation += 1;
    cached = undefined;
  };
  listener?.subscribe(ELECTION_CHANNEL, { notified: forget, reset: forget });

  return {
    /** The election as stored now (no cache). */
    find: () => repo.find(),
    /** The election, cached while notifications arrive (every change empties it at once in every process). */
    async current(): Promise<Election | undefined> {
      if (!listener?.listening) return repo.find();
      if (cached) return cached.value;
      const seen = generation;
      const value = await repo.find();
      if (seen === generation && listener.listening) cached = { value };
      return value;
    },
    async get(): Promise<Election> {
      const election = await repo.find();
      if (!election) throw new AppError('ELECTION_NOT_SET', 'No election is set yet');
      return election;
    },
    async put(context: RequestContext, body: Omit<Election, 'updatedAt'>): Promise<Election> {
      await repo.save(context, body);
      forget();
      return (await repo.find())!;
    },
  };
}

export type ElectionService = ReturnType<typeof createElectionService>;
