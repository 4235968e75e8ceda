// Request and response schemas of the process analysis (GET /v1/analysis, GET /v1/analysis/national).
import { z } from 'zod';
import { regionCode } from '../summaries/summaries.schemas.js';

const kind = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,39}$/, 'a form key')
  .meta({ description: 'The form analysed (its key): a built-in kind such as `voting`, or a form of the mission' });
const share = z.number().min(0).max(1).nullable();
const shares = z
  .record(z.string(), share)
  .meta({ description: 'Each count over the units that answered the question; null when none did' });
const counts = z.record(z.string(), z.number().int());

export const analysisQuery = z.strictObject({
  kind,
  level: z.enum(['state', 'municipality', 'parish']),
  parent: regionCode
    .optional()
    .meta({ description: 'Only regions under this region (a state, municipality or parish); by default your scope' }),
});
export const analysisNationalQuery = z.strictObject({ kind });

const answerSchema = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('boolean'),
      yes: z.number().int(),
      no: z.number().int(),
      unanswered: z.number().int(),
      yesShare: share.meta({ description: 'yes / (yes + no); null when no unit answered' }),
    }),
    z.object({
      type: z.enum(['single', 'multiple', 'codes']),
      counts: counts.meta({
        description:
          'Units per option (every option of the current version, 0 included; codes: those seen). For multiple ' +
          'and codes a unit counts once under each option it chose',
      }),
      unanswered: z.number().int(),
      shares,
    }),
    z.object({
      type: z.literal('integer'),
      answered: z.number().int(),
      sum: z.number(),
      mean: z.number().nullable(),
      min: z.number().int().nullable(),
      max: z.number().int().nullable(),
      median: z.number().nullable().meta({ description: 'Of an even count, the mean of the two middle values' }),
    }),
    z.object({
      type: z.literal('time'),
      answered: z.number().int(),
      median: z.string().nullable().meta({ description: 'HH:MM, the lower median' }),
      earliest: z.string().nullable(),
      latest: z.string().nullable(),
    }),
    z.object({ type: z.enum(['text', 'tally']), answered: z.number().int() }),
  ])
  .meta({ id: 'AnalysisAnswer' });

export const analysisSchema = z
  .object({
    kind: z.string(),
    version: z.number().int().meta({ description: 'The current version of the form (its questions come first)' }),
    level: z.enum(['national', 'state', 'municipality', 'parish']),
    rows: z.array(
      z.object({
        code: z.string().meta({ description: 'Region code; "national" for the country' }),
        name: z.string(),
        level: z.enum(['national', 'state', 'municipality', 'parish']),
        units: z.object({
          total: z.number().int().meta({ description: 'Centres in the registry (tables, for forms about a table)' }),
          reporting: z.number().int().meta({ description: 'Units with a counted report of the form' }),
        }),
        questions: z.record(z.string(), answerSchema).meta({
          description:
            "Keyed by question: the current version's questions in order, then those only older versions had. " +
            'unanswered = reporting − answered',
        }),
      }),
    ),
  })
  .meta({ id: 'Analysis' });
