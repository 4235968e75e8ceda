// SQL of the election singleton: its read, and the audited write that refuses to drop a counted candidate.
import type { PrismaClient } from '../../generated/prisma/client.js';
import { auditTrail as audit } from '../../infra/audit.js';
import type { RequestContext } from '../../infra/auth/actor.js';
import { notify } from '../../infra/db/listener.js';
import { AppError } from '../../infra/errors.js';

export const ELECTION_CHANNEL = 'testigo_election';

export interface Candidate {
  code: string;
  name: string;
  party?: string;
}
export interface Election {
  name: string;
  date: string;
  timeZone: string;
  openingTime: string;
  candidates: Candidate[];
  updatedAt: string;
}

export function createElectionRepository(prisma: PrismaClient) {
  return {
    async find(): Promise<Election | undefined> {
      const row = await prisma.election.findUnique({ where: { id: 1 } });
      return row
        ? {
            name: row.name,
            date: row.date,
            timeZone: row.timeZone,
            openingTime: row.openingTime,
            candidates: row.candidates as unknown as Candidate[],
            updatedAt: row.updatedAt.toISOString(),
          }
        : undefined;
    },

    /**
     * Sets the election in one transaction with its audit entry, and NOTIFYs ELECTION_CHANNEL (every process
     * forgets its cached election at commit); ELECTION_CANDIDATE_IN_USE when results count a dropped candidate.
     */
    async save(context: RequestContext, election: Omit<Election, 'updatedAt'>): Promise<void> {
      await prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('testigo.election'))`;
        const codes = election.candidates.map((candidate) => candidate.code);
        const inUse = await tx.$queryRaw<{ code: string }[]>`
          SELECT DISTINCT key AS code FROM reports, jsonb_object_keys(answers->'votes') AS key
          WHERE kind = 'results' AND NOT (key IN (SELECT jsonb_array_elements_text(${JSON.stringify(codes)}::jsonb)))`;
        if (inUse.length > 0) {
          throw new AppError(
            'ELECTION_CANDIDATE_IN_USE',
            `Results count votes for ${inUse.map((row) => row.code).join(', ')}; keep them among the candidates`,
          );
        }
        const data = {
          name: election.name,
          date: election.date,
          timeZone: election.timeZone,
          openingTime: election.openingTime,
          candidates: election.candidates as object[],
          updatedAt: new Date(),
        };
        await tx.election.upsert({ where: { id: 1 }, create: { id: 1, ...data }, update: data });
        await audit.record(tx, context, [
          {
            action: 'election.set',
            entityType: 'election',
            entityId: '1',
            details: {
              name: election.name,
              date: election.date,
              timeZone: election.timeZone,
              openingTime: election.openingTime,
              candidates: codes,
            },
          },
        ]);
        await notify(tx, ELECTION_CHANNEL, ['1']);
      });
    },
  };
}

export type ElectionRepository = ReturnType<typeof createElectionRepository>;
