// Schemas of forms: the definition an admin posts (checked whole, then normalised: every default filled, texts as
// {language: text}) — what form_versions.definition stores and the analysis reads in SQL — and the answers of the
// forms routes.
import { z } from 'zod';
import { SUPPORTED_LANGUAGES } from '../../infra/http/language.js';

export const FORM_KEY = /^[a-z][a-z0-9_]{0,39}$/;
export const QUESTION_KEY = /^[a-zA-Z][a-zA-Z0-9_]{0,39}$/;
export const OPTION_KEY = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,39}$/;
export const QUESTION_TYPES = ['boolean', 'single', 'multiple', 'integer', 'time', 'text', 'codes', 'tally'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];
/** The longest text answer a form may allow (and a text question's default). */
export const MAX_TEXT_LENGTH = 4000;
export const MAX_INTEGER = 1_000_000_000;

/** A human text in one or more languages; a plain string is English. */
const textInput = (max: number) =>
  z.union([
    z.string().trim().min(1).max(max),
    z
      .strictObject(
        Object.fromEntries(SUPPORTED_LANGUAGES.map((lang) => [lang, z.string().trim().min(1).max(max).optional()])),
      )
      .refine(
        (text) => Object.values(text).some((value) => value !== undefined),
        'give the text in at least one language',
      ),
  ]);
export type LocalText = Partial<Record<(typeof SUPPORTED_LANGUAGES)[number], string>>;

const common = {
  key: z.string().regex(QUESTION_KEY, 'a letter, then letters, digits or _ (at most 40)'),
  label: textInput(500),
  help: textInput(2000).optional(),
  required: z.boolean().default(false),
  default: z.unknown().optional(),
  relevant: z
    .strictObject({
      question: z.string().regex(QUESTION_KEY),
      equals: z.union([z.boolean(), z.string(), z.number().int()]),
    })
    .optional()
    .meta({ description: 'Asked only when the earlier question `question` was answered `equals`' }),
};
const option = z.strictObject({
  key: z.string().regex(OPTION_KEY, 'letters, digits, _ or - (at most 40)'),
  label: textInput(500),
});
const options = z.array(option).min(1).max(200);
const bound = z.number().int().min(-MAX_INTEGER).max(MAX_INTEGER);

export const questionInput = z.discriminatedUnion('type', [
  z.strictObject({ ...common, type: z.literal('boolean') }),
  z.strictObject({ ...common, type: z.literal('single'), options }),
  z.strictObject({ ...common, type: z.literal('multiple'), options }),
  z.strictObject({ ...common, type: z.literal('integer'), min: bound.optional(), max: bound.optional() }),
  z.strictObject({ ...common, type: z.literal('time') }),
  z.strictObject({
    ...common,
    type: z.literal('text'),
    maxLength: z.number().int().min(1).max(MAX_TEXT_LENGTH).optional(),
  }),
  z.strictObject({ ...common, type: z.literal('codes'), maxItems: z.number().int().min(1).max(1000).optional() }),
  z.strictObject({ ...common, type: z.literal('tally'), min: bound.optional(), max: bound.optional() }),
]);

export const formDefinitionInput = z
  .strictObject({
    key: z.string().regex(FORM_KEY, 'a lower-case letter, then lower-case letters, digits or _ (at most 40)'),
    title: textInput(200),
    description: textInput(2000).optional(),
    unit: z.enum(['centre', 'table']),
    questions: z.array(questionInput).min(1).max(200),
  })
  .meta({ id: 'NewForm', description: 'A form definition; texts are a string (English) or {"en": …, "es": …}' });
/** A new version: the whole definition again (its `key`, if sent, must be the form's). */
export const formVersionInput = formDefinitionInput
  .extend({ key: formDefinitionInput.shape.key.optional() })
  .meta({ id: 'NewFormVersion' });

export type FormDefinitionInput = z.infer<typeof formDefinitionInput>;

/** A question as stored (normalised). */
export interface Question {
  key: string;
  type: QuestionType;
  label: LocalText;
  help?: LocalText;
  required: boolean;
  options?: { key: string; label: LocalText }[];
  min?: number;
  max?: number;
  maxLength?: number;
  maxItems?: number;
  default?: unknown;
  relevant?: { question: string; equals: unknown };
}
/** A definition as stored in form_versions.definition (normalised: see the contract in README › Forms). */
export interface FormDefinition {
  key: string;
  title: LocalText;
  description?: LocalText;
  unit: 'centre' | 'table';
  questions: Question[];
}

const localText = z.record(z.string(), z.string()).meta({ description: 'The text per language (en, es)' });
const questionSchema = z
  .object({
    key: z.string(),
    type: z.enum(QUESTION_TYPES),
    label: localText,
    help: localText.optional(),
    required: z.boolean(),
    options: z.array(z.object({ key: z.string(), label: localText })).optional(),
    min: z.number().int().optional(),
    max: z.number().int().optional(),
    maxLength: z.number().int().optional(),
    maxItems: z.number().int().optional(),
    default: z.unknown().optional(),
    relevant: z.object({ question: z.string(), equals: z.unknown() }).optional(),
  })
  .meta({ id: 'FormQuestion' });

export const formVersionSchema = z
  .object({
    key: z.string(),
    kind: z.string().meta({ description: 'The same as key: what reports send as `kind`' }),
    role: z.string().nullable().meta({ description: 'The built-in kind a summary reads (null for the mission’s own)' }),
    unit: z.enum(['centre', 'table']),
    version: z.number().int(),
    retired: z.boolean(),
    title: z.string().meta({ description: 'In the language asked for (?lang= or Accept-Language)' }),
    titles: localText,
    description: localText.optional(),
    versions: z.array(z.object({ version: z.number().int(), retired: z.boolean() })),
    questions: z.array(questionSchema),
    schema: z
      .record(z.string(), z.unknown())
      .meta({ description: 'JSON Schema 2020-12 of the answers, for offline validation (labels in x-labels)' }),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'FormVersion' });

export const formsSchema = z
  .object({
    items: z.array(formVersionSchema).meta({ description: 'Every form at its current version' }),
    incidentCategories: z.array(z.string()),
  })
  .meta({ id: 'Forms' });

export const langQuery = z.strictObject({
  lang: z.enum(SUPPORTED_LANGUAGES).optional().meta({ description: 'Language of titles; default: Accept-Language' }),
});
export const formKeyParams = z.strictObject({ key: z.string().regex(FORM_KEY) });
export const formVersionParams = z.strictObject({
  key: z.string().regex(FORM_KEY),
  version: z.coerce.number().int().min(1).max(1_000_000),
});
