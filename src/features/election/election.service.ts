// The election singleton: read by report validation (candidates) and set by admins, audited.
import type { PrismaClient } from '../../generated/prisma/client.js';
import type { RequestContext } from '../../infra/auth/actor.js';
import { AppError } from '../../infra/errors.js';
import { auditRepository as audit } from '../audit/audit.repository.js';

export interface Candidate { code: string; name: string; party?: string }
export interface Election { name: string; date: string; timeZone: string; openingTime: string; candidates: Candidate[]; updatedAt: string }

export function createElectionService(prisma: PrismaClient, options: { cacheMs?: number } = {}) {
  async function find(): Promise<Election | undefined> {
    const row = await prisma.election.findUnique({ where: { id: 1 } });
    return row ? { name: row.name, date: row.date, timeZone: row.timeZone, openingTime: row.openingTime, candidates: row.candidates as unknown as Candidate[], updatedAt: row.updatedAt.toISOString() } : undefined;
  }
  // Report validation reads the election on every results report; it changes a few times per election.
  let cached: { value: Election | undefined; until: number } | undefined;

  return {
    find,
    /** The election as of at most `cacheMs` ago (another process's change shows within that time). */
    async current(): Promise<Election | undefined> {
      if (!options.cacheMs) return find();
      if (cached && cached.until > Date.now()) return cached.value;
      const value = await find();
      cached = { value, until: Date.now() + options.cacheMs };
      return value;
    },
    async get(): Promise<Election> {
      const election = await find();
      if (!election) throw new AppError('ELECTION_NOT_SET', 'No election is set yet');
      return election;
    },
    async put(context: RequestContext, body: Omit<Election, 'updatedAt'>): Promise<Election> {
      await prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('testigo.election'))`;
        const codes = body.candidates.map((candidate) => candidate.code);
        const inUse = await tx.$queryRaw<{ code: string }[]>`
          SELECT DISTINCT key AS code FROM reports, jsonb_object_keys(answers->'votes') AS key
          WHERE kind = 'results' AND NOT (key IN (SELECT jsonb_array_elements_text(${JSON.stringify(codes)}::jsonb)))`;
        if (inUse.length > 0) {
          throw new AppError('ELECTION_CANDIDATE_IN_USE', `Results count votes for ${inUse.map((row) => row.code).join(', ')}; keep them among the candidates`);
        }
        const data = { name: body.name, date: body.date, timeZone: body.timeZone, openingTime: body.openingTime, candidates: body.candidates as object[], updatedAt: new Date() };
        await tx.election.upsert({ where: { id: 1 }, create: { id: 1, ...data }, update: data });
        await audit.record(tx, context, [{ action: 'election.set', entityType: 'election', entityId: '1', details: { name: body.name, date: body.date, timeZone: body.timeZone, openingTime: body.openingTime, candidates: codes } }]);
      });
      cached = undefined;
      return (await find())!;
    },
  };
}
