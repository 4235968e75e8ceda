// The language of an answer's human texts (form titles and labels, problem titles): `?lang=` when given, else
// the best match of Accept-Language (RFC 9110 §12.5.4: quality values, language ranges by prefix), else English.
// Codes never change with the language.
import type { FastifyRequest } from 'fastify';

export const SUPPORTED_LANGUAGES = ['en', 'es'] as const;
export type Language = (typeof SUPPORTED_LANGUAGES)[number];

const isSupported = (tag: string): tag is Language => (SUPPORTED_LANGUAGES as readonly string[]).includes(tag);

/** The primary subtag of a language tag, lower-cased (`es-VE` → `es`). */
const primary = (tag: string) => tag.trim().toLowerCase().split('-')[0] ?? '';

/** The language to answer `request` in: `explicit` (a `lang` parameter) if supported, else Accept-Language's pick. */
export function requestLanguage(request: Pick<FastifyRequest, 'headers'>, explicit?: string): Language {
  if (explicit !== undefined && isSupported(primary(explicit))) return primary(explicit) as Language;
  const header = request.headers['accept-language'];
  if (typeof header !== 'string' || header.length === 0) return 'en';
  let best: { language: Language; q: number } | undefined;
  for (const range of header.split(',')) {
    const [tag = '', ...params] = range.split(';');
    const qParam = params.map((param) => param.trim()).find((param) => param.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const language = primary(tag);
    const candidate: Language | undefined = language === '*' ? 'en' : isSupported(language) ? language : undefined;
    if (candidate && (!best || q > best.q)) best = { language: candidate, q };
  }
  return best?.language ?? 'en';
}
