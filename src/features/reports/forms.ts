// The checklists observers fill in, one zod schema per report kind, versioned. A change that alters what
// a client must send bumps the version; GET /v1/forms serves each as JSON Schema for offline validation.
import { z } from 'zod';

const minutes = z
  .number()
  .int()
  .min(0)
  .max(24 * 60);
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time HH:MM');
const count = z.number().int().min(0).max(1_000_000);
const text = (max: number) => z.string().trim().min(1).max(max);

export const INCIDENT_CATEGORIES = [
  'violence',
  'intimidation',
  'vote_buying',
  'coercion',
  'identity_fraud',
  'machine_failure',
  'materials_missing',
  'observer_denied',
  'witness_denied',
  'propaganda',
  'security_forces',
  'late_opening',
  'irregular_closing',
  'tally_irregularity',
  'other',
] as const;

export const PARTY_WITNESS_KEYS = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'a party or candidate code');

export const forms = {
  arrival: {
    version: 1,
    title: 'Arrival at the centre',
    schema: z.strictObject({
      accessGranted: z.boolean(),
      deniedReason: text(1000).optional(),
    }),
  },
  opening: {
    version: 1,
    title: 'Opening of the table or centre',
    schema: z.strictObject({
      openedAt: clock.meta({ description: 'Local time the voting started' }),
      tableStaffComplete: z.boolean(),
      zeroReportPrinted: z.boolean().meta({ description: 'The voting machine printed its zero report' }),
      witnessesPresent: z
        .array(PARTY_WITNESS_KEYS)
        .max(50)
        .meta({ description: 'Parties or candidates with a witness present' }),
      problems: text(2000).optional(),
    }),
  },
  voting: {
    version: 1,
    title: 'During the voting',
    schema: z.strictObject({
      queueLength: z.enum(['none', 'short', 'medium', 'long']),
      waitingMinutes: minutes,
      assistedVotingProblems: z.boolean(),
      identificationProblems: z.boolean(),
      securityForces: z.enum(['absent', 'appropriate', 'intimidating', 'interfering']),
      propagandaNearby: z.boolean(),
      comments: text(2000).optional(),
    }),
  },
  closing: {
    version: 1,
    title: 'Closing of the table',
    schema: z.strictObject({
      closedAt: clock,
      votersInLineAllowed: z
        .boolean()
        .meta({ description: 'Voters still in line at closing time were allowed to vote' }),
      votersInLineAtClose: count.optional(),
    }),
  },
  results: {
    version: 1,
    title: 'Results of a table (its tally sheet)',
    schema: z.strictObject({
      registeredVoters: count,
      validVotes: count,
      nullVotes: count,
      blankVotes: count.optional(),
      votes: z.record(PARTY_WITNESS_KEYS, count).meta({ description: 'Votes per candidate code of the election' }),
      citizenAudit: z.boolean().meta({ description: 'A citizen audit of the count took place' }),
    }),
  },
  incident: {
    version: 1,
    title: 'Incident',
    schema: z.strictObject({
      category: z.enum(INCIDENT_CATEGORIES),
      severity: z.enum(['low', 'medium', 'high', 'critical']),
      description: text(4000),
      ongoing: z.boolean().default(false),
    }),
  },
} as const;

export type ReportKind = keyof typeof forms;
export const REPORT_KINDS = Object.keys(forms) as [ReportKind, ...ReportKind[]];
export type ResultsAnswers = z.infer<typeof forms.results.schema>;
