// The language of an answer: English or Spanish, chosen from an explicit `?lang=` a route passes, else by the
// request's Accept-Language (RFC 9110 §12.5.4, q-values and ranges such as `es-VE`, `en-US`, `*`, negotiated by
// the `negotiator` library), else English. The one place that decides it: problems' titles use it, and so do
// forms' titles and labels.
import type { FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import { addVary } from './conditional.js';

/** The languages Testigo answers in, the default first. */
export const SUPPORTED_LANGUAGES = ['en', 'es'] as const;
export type Language = (typeof SUPPORTED_LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = SUPPORTED_LANGUAGES[0];
/** A text in every supported language. */
export type Localized = Record<Language, string>;

export const isLanguage = (value: unknown): value is Language =>
  typeof value === 'string' && (SUPPORTED_LANGUAGES as readonly string[]).includes(value);

/**
 * The best of `supported` for an Accept-Language header (a range like `es-VE` matches `es`; `*` the first
 * supported); the first supported when the header is absent or accepts none of them (`fr`, `es;q=0`).
 */
export function negotiateLanguage<const L extends string>(
  header: string | undefined,
  supported: readonly [L, ...L[]],
): L {
  if (!header?.trim()) return supported[0];
  const [best] = new Negotiator({ headers: { 'accept-language': header } }).languages([...supported]);
  return (best as L | undefined) ?? supported[0];
}

/** The language to answer `request` in: `explicit` (a route's `?lang=`) when supported, else Accept-Language. */
export function requestLanguage(request: Pick<FastifyRequest, 'headers'>, explicit?: string | null): Language {
  if (isLanguage(explicit)) return explicit;
  const header = request.headers['accept-language'];
  return negotiateLanguage(Array.isArray(header) ? header.join(',') : header, SUPPORTED_LANGUAGES);
}

/** Marks an answer as being in `language`, chosen by Accept-Language (Content-Language, and Vary for caches). */
export function answerLanguage(reply: FastifyReply, language: Language): void {
  reply.header('content-language', language);
  addVary(reply, 'Accept-Language');
}
