// Request and response schemas of summaries, the timeline and the missing-centres list.
import { z } from 'zod';
import { cursorParam, limitParam } from '../../infra/http/pagination.js';
import { instantInput } from '../../infra/http/validation.js';
import { REPORT_KINDS } from '../reports/forms.js';
import { kindSchema } from '../reports/reports.schemas.js';

export const regionCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'a region code');
const instant = instantInput().transform((value) => new Date(value));
const share = z
  .number()
  .min(0)
  .max(1)
  .nullable()
  .meta({ description: 'A fraction from 0 to 1; null when the denominator is 0' });
const counts = <T extends readonly [string, ...string[]]>(keys: T) =>
  z.object(Object.fromEntries(keys.map((key) => [key, z.number().int()])) as Record<T[number], z.ZodNumber>);

export const summaryLevelSchema = z.enum(['state', 'municipality', 'parish', 'centre']).meta({ id: 'SummaryLevel' });

const window = {
  since: instant
    .optional()
    .meta({ description: 'Only reports received at or after this instant (computed from the reports; slower)' }),
  until: instant
    .optional()
    .meta({ description: 'Only reports received before this instant (computed from the reports; slower)' }),
};

// Bounded answers: centres only under a parent (a state holds at most ~1,500), and a recount (since/until)
// below the state level only under a parent, so that no read answers or recounts the whole country's centres.
export const summaryQuery = z
  .strictObject({
    level: summaryLevelSchema,
    parent: regionCode.optional().meta({
      description:
        'Only regions under this region (a state, municipality or parish); by default your scope. Required for ' +
        '`level=centre`, and with `since`/`until` for every level below `state`',
    }),
    ...window,
  })
  .superRefine((query, ctx) => {
    if (query.parent !== undefined) return;
    if (query.level === 'centre') {
      ctx.addIssue({
        code: 'custom',
        path: ['parent'],
        message: 'required for level=centre: the centres of one state, municipality or parish',
      });
    } else if (query.level !== 'state' && (query.since || query.until)) {
      ctx.addIssue({
        code: 'custom',
        path: ['parent'],
        message: `required for a recount (since/until) at level=${query.level}`,
      });
    }
  });
export const nationalQuery = z.strictObject(window);

export const summarySchema = z
  .object({
    code: z.string().meta({ description: 'Region or centre code; "national" for the country' }),
    name: z.string(),
    level: z.enum(['national', 'state', 'municipality', 'parish', 'centre']),
    coverage: z.object({
      centres: z.number().int().meta({ description: 'Centres in the registry' }),
      tables: z.number().int(),
      registeredVoters: z.number().int().meta({ description: 'Registered voters of all its tables (registry)' }),
      centresReporting: z.number().int().meta({ description: 'Centres with at least one unrejected report' }),
      centresOpened: z.number().int().meta({ description: 'Centres with an unrejected opening report' }),
      tablesCounted: z.number().int().meta({ description: 'Tables with a counted results report' }),
      centresReportingShare: share,
      centresOpenedShare: share,
      tablesCountedShare: share,
    }),
    reports: z.object({
      total: z.number().int().meta({ description: 'Unrejected reports' }),
      byKind: counts(REPORT_KINDS),
    }),
    incidents: z.object({
      total: z.number().int(),
      open: z.number().int().meta({ description: 'Incidents reported as still ongoing' }),
      bySeverity: counts(['low', 'medium', 'high', 'critical'] as const),
      byCategory: z.record(z.string(), z.number().int()),
    }),
    opening: z.object({
      openingTime: z.string().meta({
        description: 'The election\'s opening time (HH:MM, election time zone) that "on time" is measured against',
      }),
      centres: z
        .number()
        .int()
        .meta({ description: 'Centres with an opening time (their earliest unrejected opening report)' }),
      onTime: z.number().int().meta({ description: 'Of those, centres that opened at or before the opening time' }),
      onTimeShare: share,
      medianOpenedAt: z
        .string()
        .nullable()
        .meta({ description: 'Median opening time of those centres (HH:MM; the lower median)' }),
    }),
    results: z.object({
      tablesCounted: z.number().int(),
      registeredVoters: z.number().int().meta({ description: 'Registered voters on the counted tally sheets' }),
      validVotes: z.number().int(),
      nullVotes: z.number().int(),
      blankVotes: z.number().int(),
      votesCast: z.number().int().meta({ description: 'validVotes + nullVotes + blankVotes' }),
      turnout: share.meta({ description: 'votesCast / registeredVoters of the counted tables' }),
      votes: z
        .record(z.string(), z.number().int())
        .meta({ description: 'Votes per candidate code (every candidate of the election)' }),
      shares: z
        .record(z.string(), z.number())
        .meta({ description: "Each candidate's share of the valid votes, 0 to 1" }),
    }),
    flags: z.object({
      flagged: z
        .number()
        .int()
        .meta({ description: 'Unrejected reports with a plausibility flag or flagged by a reviewer' }),
      conflicting: z.number().int().meta({ description: 'Results reports whose table has disagreeing results' }),
      unreviewed: z.number().int(),
      verified: z.number().int(),
      rejected: z.number().int(),
    }),
  })
  .meta({ id: 'Summary' });

export const summaryListSchema = z
  .object({
    level: summaryLevelSchema,
    parent: z.object({ code: z.string(), name: z.string(), level: z.string() }).nullable(),
    since: z.iso.datetime().nullable(),
    until: z.iso.datetime().nullable(),
    items: z.array(summarySchema),
  })
  .meta({ id: 'SummaryList' });

export const nationalSchema = summarySchema
  .extend({ since: z.iso.datetime().nullable(), until: z.iso.datetime().nullable() })
  .meta({ id: 'NationalSummary' });

export const timelineQuery = z.strictObject({
  region: regionCode
    .optional()
    .meta({ description: 'A state, municipality or parish; by default your scope (the country for national roles)' }),
  kind: kindSchema.optional(),
  bucket: z.enum(['15m', '1h']).default('1h'),
  ...window,
  cursor: cursorParam(instantInput()).optional(),
  limit: limitParam(200, 1000),
});

export const timelineSchema = z
  .object({
    region: z.string().nullable(),
    kind: kindSchema.nullable(),
    bucket: z.enum(['15m', '1h']),
    items: z.array(
      z.object({
        start: z.iso.datetime(),
        end: z.iso.datetime(),
        reports: z.number().int().meta({ description: 'Reports received in [start, end), rejected ones included' }),
        byKind: z.record(z.string(), z.number().int()),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'Timeline', description: 'Buckets without reports are left out' });

export const missingQuery = z.strictObject({
  region: regionCode.optional().meta({ description: 'A state, municipality or parish; by default your scope' }),
  kind: kindSchema,
  observed: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional()
    .meta({ description: 'true: only centres with at least one active observer assigned' }),
  cursor: cursorParam(z.string()).optional(),
  limit: limitParam(100, 1000),
});

export const missingSchema = z
  .object({
    kind: kindSchema,
    region: z.string().nullable(),
    items: z.array(
      z.object({
        code: z.string(),
        name: z.string(),
        stateCode: z.string(),
        municipalityCode: z.string(),
        parishCode: z.string(),
        tables: z.number().int(),
        observers: z.array(
          z.object({ id: z.uuid(), name: z.string(), phone: z.string().nullable(), email: z.string().nullable() }),
        ),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'MissingCentres' });
