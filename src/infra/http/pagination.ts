// Opaque cursors for keyset pagination: clients pass back `nextCursor` untouched.
import { z } from 'zod';
import { unsafeTextIssues } from './validation.js';

export const encodeCursor = (key: unknown): string => Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');

/** A query-string cursor that decodes to a value of `shape`, or fails validation with a clear message. */
export function cursorParam<T extends z.ZodType>(shape: T) {
  return z
    .string()
    .max(512)
    .transform((raw, ctx): z.output<T> => {
      try {
        const decoded: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
        const parsed = unsafeTextIssues(decoded).length === 0 ? shape.safeParse(decoded) : undefined;
        if (parsed?.success) return parsed.data;
      } catch {
        // fall through to the issue below
      }
      ctx.addIssue({ code: 'custom', message: 'not a cursor returned by this API' });
      return z.NEVER;
    })
    .meta({ description: 'The `nextCursor` of the previous page' });
}

export const limitParam = (fallback: number, max: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .meta({ description: `Page size, 1 to ${max}` });

/** One page out of `limit + 1` fetched rows: the first `limit`, and the key of the last when more follow. */
export function pageOf<T, K>(rows: T[], limit: number, keyOf: (last: T) => K): { items: T[]; next: K | undefined } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last !== undefined ? keyOf(last) : undefined };
}
