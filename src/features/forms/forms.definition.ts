// What a form definition means, without the database: its rules beyond shape (unique keys, bounds, `relevant`
// pointing back, defaults of the right type), its normalised stored form, the zod schema of its answers (built
// once per version at run time), and its JSON Schema 2020-12 for phones to validate offline.
import { z } from 'zod';
import type { ProblemDetailItem } from '../../infra/errors.js';
import type { Language } from '../../infra/http/language.js';
import {
  type FormDefinition,
  type FormDefinitionInput,
  type LocalText,
  MAX_TEXT_LENGTH,
  type Question,
} from './forms.schemas.js';

const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;
const CODE = /^[A-Za-z0-9_-]{1,32}$/;
const CODE_MESSAGE = 'a party or candidate code';
const TALLY_MAX = 1_000_000;
const CODES_MAX_ITEMS = 50;
/** Types whose answer a `relevant` rule may test. */
const TRIGGER_TYPES = new Set(['boolean', 'single', 'integer']);

const text = (value: string | LocalText): LocalText => (typeof value === 'string' ? { en: value } : { ...value });
const stripUndefined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;

/** The zod schema of one question's answer when given (no optional, default or relevance). */
function answerSchema(question: Question): z.ZodType {
  switch (question.type) {
    case 'boolean':
      return z.boolean();
    case 'single':
      return z.enum(question.options!.map((option) => option.key) as [string, ...string[]]);
    case 'multiple': {
      const keys = question.options!.map((option) => option.key) as [string, ...string[]];
      return z
        .array(z.enum(keys))
        .max(keys.length)
        .refine((chosen) => new Set(chosen).size === chosen.length, 'each option at most once');
    }
    case 'integer': {
      let schema = z.number().int();
      if (question.min !== undefined) schema = schema.min(question.min);
      if (question.max !== undefined) schema = schema.max(question.max);
      return schema;
    }
    case 'time':
      return z.string().regex(CLOCK, 'a local time HH:MM');
    case 'text':
      return z
        .string()
        .trim()
        .min(1)
        .max(question.maxLength ?? MAX_TEXT_LENGTH);
    case 'codes':
      return z.array(z.string().regex(CODE, CODE_MESSAGE)).max(question.maxItems ?? CODES_MAX_ITEMS);
    case 'tally':
      return z.record(
        z.string().regex(CODE, CODE_MESSAGE),
        z
          .number()
          .int()
          .min(question.min ?? 0)
          .max(question.max ?? TALLY_MAX),
      );
  }
}

/**
 * The definition's rules beyond its shape, each problem at its path (`questions.3.options`); none means it is
 * sound. Answers the normalised definition as stored.
 */
export function normaliseDefinition(
  input: FormDefinitionInput,
): { definition: FormDefinition; problems: [] } | { definition?: undefined; problems: ProblemDetailItem[] } {
  const problems: ProblemDetailItem[] = [];
  const problem = (path: string, message: string) => problems.push({ in: 'body', path, message });
  const questions: Question[] = [];
  const seen = new Map<string, Question>();
  input.questions.forEach((raw, index) => {
    const at = `questions.${index}`;
    if (seen.has(raw.key)) problem(`${at}.key`, `${raw.key} is the key of an earlier question`);
    const question: Question = stripUndefined({
      key: raw.key,
      type: raw.type,
      label: text(raw.label),
      help: raw.help === undefined ? undefined : text(raw.help),
      required: raw.required,
      options:
        'options' in raw ? raw.options.map((option) => ({ key: option.key, label: text(option.label) })) : undefined,
      min: 'min' in raw ? raw.min : raw.type === 'tally' ? 0 : undefined,
      max: 'max' in raw ? raw.max : raw.type === 'tally' ? TALLY_MAX : undefined,
      maxLength: raw.type === 'text' ? (raw.maxLength ?? MAX_TEXT_LENGTH) : undefined,
      maxItems: raw.type === 'codes' ? (raw.maxItems ?? CODES_MAX_ITEMS) : undefined,
      default: undefined,
      relevant: raw.relevant,
    });
    if (question.type === 'tally') {
      question.min ??= 0;
      question.max ??= TALLY_MAX;
    }
    if (question.options) {
      const keys = question.options.map((option) => option.key);
      const repeated = keys.filter((key, i) => keys.indexOf(key) !== i);
      if (repeated.length > 0) problem(`${at}.options`, `options repeated: ${[...new Set(repeated)].join(', ')}`);
    }
    if (question.min !== undefined && question.max !== undefined && question.min > question.max)
      problem(`${at}.min`, `min (${question.min}) is above max (${question.max})`);
    if (raw.default !== undefined) {
      if (raw.relevant) problem(`${at}.default`, 'a question asked only when relevant has no default');
      const parsed = answerSchema(question).safeParse(raw.default);
      if (parsed.success) question.default = parsed.data;
      else problem(`${at}.default`, `not a valid answer: ${parsed.error.issues[0]?.message}`);
    }
    if (raw.relevant) {
      const trigger = seen.get(raw.relevant.question);
      if (!trigger) problem(`${at}.relevant.question`, `${raw.relevant.question} is not an earlier question`);
      else if (!TRIGGER_TYPES.has(trigger.type))
        problem(
          `${at}.relevant.question`,
          `a ${trigger.type} question cannot decide relevance (boolean, single, integer can)`,
        );
      else if (!answerSchema(trigger).safeParse(raw.relevant.equals).success)
        problem(`${at}.relevant.equals`, `not a valid answer of ${trigger.key}`);
    }
    if (!seen.has(raw.key)) seen.set(raw.key, question);
    questions.push(question);
  });
  if (problems.length > 0) return { problems };
  return {
    definition: stripUndefined({
      key: input.key,
      title: text(input.title),
      description: input.description === undefined ? undefined : text(input.description),
      unit: input.unit,
      questions,
    }),
    problems: [],
  };
}

/** Whether question `question`'s rule makes it asked, given the parsed answers (an unanswered trigger: not asked). */
const isRelevant = (question: Question, answers: Record<string, unknown>) =>
  answers[question.relevant!.question] === question.relevant!.equals;

/**
 * The zod schema of a version's answers: a strict object (an unknown question is refused), each answer of its type,
 * options, range and length, required ones present, defaults filled; a question whose `relevant` rule does not
 * hold must be unanswered, and a required one whose rule holds must be answered.
 */
export function compileAnswers(definition: FormDefinition): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const question of definition.questions) {
    const schema = answerSchema(question);
    shape[question.key] =
      question.default !== undefined
        ? schema.default(question.default as never)
        : question.required && !question.relevant
          ? schema
          : schema.optional();
  }
  const object = z.strictObject(shape);
  const conditional = definition.questions.filter((question) => question.relevant);
  if (conditional.length === 0) return object as z.ZodType<Record<string, unknown>>;
  return object.superRefine(
    (answers, ctx) => {
      const failed = new Set(ctx.issues.map((issue) => String(issue.path?.[0])));
      for (const question of conditional) {
        const trigger = question.relevant!.question;
        if (failed.has(trigger)) continue;
        const asked = isRelevant(question, answers);
        const answered = answers[question.key] !== undefined;
        if (!asked && answered)
          ctx.addIssue({
            code: 'custom',
            path: [question.key],
            message: `not asked: answer only when ${trigger} is ${JSON.stringify(question.relevant!.equals)}`,
          });
        else if (asked && !answered && question.required && !failed.has(question.key))
          ctx.addIssue({
            code: 'custom',
            path: [question.key],
            message: `required when ${trigger} is ${JSON.stringify(question.relevant!.equals)}`,
          });
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  ) as z.ZodType<Record<string, unknown>>;
}

/** The text in `language`, else English, else the first given. */
export const pick = (value: LocalText, language: Language): string =>
  value[language] ?? value.en ?? Object.values(value)[0] ?? '';

/** The JSON Schema 2020-12 of one answer (validation keywords as zod's toJSONSchema writes them, plus annotations). */
function answerJsonSchema(question: Question, language: Language): Record<string, unknown> {
  const code = { type: 'string', pattern: CODE.source };
  const base: Record<string, unknown> = (() => {
    switch (question.type) {
      case 'boolean':
        return { type: 'boolean' };
      case 'single':
        return { type: 'string', enum: question.options!.map((option) => option.key) };
      case 'multiple':
        return {
          type: 'array',
          items: { type: 'string', enum: question.options!.map((option) => option.key) },
          maxItems: question.options!.length,
          uniqueItems: true,
        };
      case 'integer':
        return stripUndefined({ type: 'integer', minimum: question.min, maximum: question.max });
      case 'time':
        return { type: 'string', pattern: CLOCK.source };
      case 'text':
        return { type: 'string', minLength: 1, maxLength: question.maxLength };
      case 'codes':
        return { maxItems: question.maxItems, type: 'array', items: code };
      case 'tally':
        return {
          type: 'object',
          propertyNames: code,
          additionalProperties: { type: 'integer', minimum: question.min, maximum: question.max },
        };
    }
  })();
  return stripUndefined({
    ...(question.default !== undefined ? { default: question.default } : {}),
    ...base,
    title: pick(question.label, language),
    description: question.help ? pick(question.help, language) : undefined,
    'x-labels': question.label,
    'x-help': question.help,
    'x-options': question.options?.map((option) => ({ key: option.key, labels: option.label })),
  });
}

/**
 * The JSON Schema of a version's answers, titles in `language` and every language's labels in `x-labels`. A
 * `relevant` rule is an if/then (the trigger answered the value → the question may be answered, and must be when
 * required) and an else that forbids the answer, so that an offline validator refuses what the server refuses.
 */
export function jsonSchemaOf(definition: FormDefinition, language: Language): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  const rules: Record<string, unknown>[] = [];
  for (const question of definition.questions) {
    properties[question.key] = answerJsonSchema(question, language);
    if (question.relevant) {
      const trigger = definition.questions.find((other) => other.key === question.relevant!.question);
      // An unanswered trigger takes its default, if it has one, as the server does.
      const absentMatches = trigger?.default !== undefined && trigger.default === question.relevant.equals;
      const when = {
        properties: { [question.relevant.question]: { const: question.relevant.equals } },
        ...(absentMatches ? {} : { required: [question.relevant.question] }),
      };
      rules.push(
        stripUndefined({
          if: when,
          then: question.required ? { required: [question.key] } : undefined,
          else: { not: { required: [question.key] } },
        }),
      );
    } else if (question.required && question.default === undefined) required.push(question.key);
  }
  return stripUndefined({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: pick(definition.title, language),
    description: definition.description ? pick(definition.description, language) : undefined,
    'x-labels': definition.title,
    type: 'object',
    properties,
    required,
    additionalProperties: false,
    allOf: rules.length > 0 ? rules : undefined,
  });
}
