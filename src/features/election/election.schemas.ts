// Schemas of the election: a candidate, the body of PUT /v1/election, and the election as answered.
import { z } from 'zod';
import { dayInput } from '../../infra/http/validation.js';

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

export const candidateSchema = z
  .strictObject({
    code: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and -, at most 32'),
    name: z.string().trim().min(1).max(200),
    party: z.string().trim().min(1).max(200).optional(),
  })
  .meta({ id: 'Candidate' });

export const electionBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    date: dayInput().meta({ description: 'Election day, YYYY-MM-DD' }),
    timeZone: z.string().refine(isTimeZone, 'an IANA time zone such as America/Caracas'),
    openingTime: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time HH:MM')
      .default('06:00')
      .meta({
        description:
          'When centres should open (HH:MM in timeZone); summaries count centres that opened by then as on time',
      }),
    candidates: z
      .array(candidateSchema)
      .min(1)
      .max(200)
      .refine((list) => new Set(list.map((c) => c.code)).size === list.length, 'candidate codes repeat'),
  })
  .meta({ id: 'SetElection' });

export const electionSchema = electionBody.extend({ updatedAt: z.iso.datetime() }).meta({ id: 'Election' });
