// Input rules that hold for every request whatever its schema: text PostgreSQL can store (no NUL, no lone
// UTF-16 surrogate, in any string or object key of a body, query, params or headers), and instants in a
// range it stores and an election can mean. The validator compiler of the app applies the text rule before
// each route schema; values a handler parses itself (a batch's items) go through `parseInput`.
import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** NUL, or a surrogate that is not half of a pair (JSON.parse yields one for `"\ud800"`). */
const UNSAFE_TEXT = /[\0\p{Cs}]/u;
const UNSAFE_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/** True when PostgreSQL cannot store `text` as text (for readers of other formats, such as CSV cells). */
export const isUnsafeText = (text: string): boolean => UNSAFE_TEXT.test(text);
export { UNSAFE_MESSAGE };

export interface InputIssue {
  path: (string | number)[];
  message: string;
}

/** Strings or keys in `value` that PostgreSQL cannot store as text, by path (iterative: any depth, bounded count). */
export function unsafeTextIssues(
  value: unknown,
  skip?: (path: (string | number)[]) => boolean,
  limit = 20,
): InputIssue[] {
  const issues: InputIssue[] = [];
  const stack: [unknown, (string | number)[]][] = [[value, []]];
  while (stack.length > 0 && issues.length < limit) {
    const [item, path] = stack.pop()!;
    if (skip?.(path)) continue;
    if (typeof item === 'string') {
      if (UNSAFE_TEXT.test(item)) issues.push({ path, message: UNSAFE_MESSAGE });
    } else if (Array.isArray(item)) {
      for (let index = item.length - 1; index >= 0; index--) stack.push([item[index], [...path, index]]);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item).reverse()) {
        if (UNSAFE_TEXT.test(key)) issues.push({ path: [...path, key], message: `key ${UNSAFE_MESSAGE}` });
        else stack.push([child, [...path, key]]);
      }
    }
  }
  return issues;
}

/** zod's safeParse, after the text rule: what a handler uses for values the route schema left to it. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.ZodSafeParseResult<z.output<T>> {
  const issues = unsafeTextIssues(value);
  if (issues.length === 0) return schema.safeParse(value);
  return {
    success: false,
    error: new z.ZodError(issues.map((issue) => ({ code: 'custom' as const, input: undefined, ...issue }))),
  } as z.ZodSafeParseResult<z.output<T>>;
}

/** Properties of object schemas whose values the handler validates itself, item by item (see `parseInput`). */
const perItem = new WeakSet<z.ZodType>();
export function checkedPerItem<T extends z.ZodType>(schema: T): T {
  perItem.add(schema);
  return schema;
}

function topLevelPerItemKeys(schema: unknown): Set<string> {
  const keys = new Set<string>();
  if (schema instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(schema.shape as Record<string, z.ZodType>))
      if (perItem.has(child)) keys.add(key);
  }
  return keys;
}

// The marker fastify-type-provider-zod puts on its validation items, so the problems plugin reads ours the same way.
const zodValidationItem = Symbol.for('ZodFastifySchemaValidationError');

/** fastify-type-provider-zod's validator compiler with the text rule in front, for every part of every route. */
export const safeValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const validate = validatorCompiler(route);
  const deferred = topLevelPerItemKeys(route.schema);
  const skip =
    deferred.size > 0 ? (path: (string | number)[]) => path.length === 1 && deferred.has(String(path[0])) : undefined;
  return (data: unknown) => {
    const issues = unsafeTextIssues(data, skip);
    if (issues.length === 0) return validate(data);
    return {
      error: issues.map((issue) => ({
        [zodValidationItem]: true,
        keyword: 'custom',
        instancePath: `/${issue.path.join('/')}`,
        schemaPath: `#/${issue.path.join('/')}/custom`,
        message: issue.message,
        params: {},
      })) as unknown as Error,
    };
  };
};

export const EARLIEST_INSTANT = '2000-01-01T00:00:00Z';
export const LATEST_INSTANT = '2100-01-01T00:00:00Z';
const earliest = Date.parse(EARLIEST_INSTANT);
const latest = Date.parse(LATEST_INSTANT);

/** An ISO 8601 instant (with Z or an offset) from 2000-01-01 to 2100-01-01: every date-time a client sends. */
export const instantInput = () =>
  z.iso.datetime({ offset: true }).refine((value) => {
    const at = Date.parse(value);
    return at >= earliest && at <= latest;
  }, `must lie between ${EARLIEST_INSTANT} and ${LATEST_INSTANT}`);

/** A calendar day (YYYY-MM-DD) in the same range. */
export const dayInput = () =>
  z.iso
    .date()
    .refine(
      (value) => value >= EARLIEST_INSTANT.slice(0, 10) && value <= LATEST_INSTANT.slice(0, 10),
      `must lie between ${EARLIEST_INSTANT.slice(0, 10)} and ${LATEST_INSTANT.slice(0, 10)}`,
    );
