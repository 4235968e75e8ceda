// The one JSON body policy: a JSON body is UTF-8 (RFC 8259 §8.1). `application/json` (or `+json`) with another
// charset is refused with 415 before its body is read, on every route; no charset, or utf-8 in any case, is accepted.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

/** The charset a JSON content type declares, lower-cased without quotes; undefined if it is not JSON or names none. */
export function jsonCharset(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const [mediaType = '', ...parameters] = contentType.split(';');
  const type = mediaType.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[^/\s]+\+json$/.test(type)) return undefined;
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    if (equals < 0 || parameter.slice(0, equals).trim().toLowerCase() !== 'charset') continue;
    return parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  return undefined;
}

export const jsonBodyPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('preParsing', async (request, _reply, payload) => {
      const { 'content-length': length, 'transfer-encoding': chunked } = request.headers;
      if (!chunked && (length === undefined || length === '0')) return payload; // no body to parse
      const charset = jsonCharset(request.headers['content-type']);
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', `A JSON body must be UTF-8, not charset=${charset.slice(0, 40)}`);
      }
      return payload;
    });
  },
  { name: 'json-body', fastify: '5.x' },
);
