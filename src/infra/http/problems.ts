// Turns every error into application/problem+json (RFC 9457) from the one catalogue, with the request id.
// A 5xx never carries its internal message; it is logged under the request id instead.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { translateDatabaseError } from '../db/errors.js';
import { AppError, type ProblemCode, type ProblemDetailItem, problemCatalogue, problemType } from '../errors.js';
import { answerLanguage, type Language, requestLanguage } from './language.js';

export const problemSchema = z
  .looseObject({
    type: z.string().meta({ description: 'A URI naming the kind of problem' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    code: z
      .enum(Object.keys(problemCatalogue) as [ProblemCode, ...ProblemCode[]])
      .meta({ description: 'Stable error code; see docs/errors.md' }),
    requestId: z.string(),
    instance: z.string().optional(),
    errors: z
      .array(
        z.looseObject({
          message: z.string(),
          in: z.string().optional(),
          path: z.string().optional(),
          line: z.number().int().optional(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'Problem', description: 'An RFC 9457 problem document' });

/** Response schemas for the given error statuses, to spread into a route's `response`. */
export function problemResponses<const S extends readonly number[]>(
  ...statuses: S
): { [K in S[number]]: typeof problemSchema } {
  return Object.fromEntries(statuses.map((status) => [status, problemSchema])) as {
    [K in S[number]]: typeof problemSchema;
  };
}

/**
 * The problem document of an error, as answered alone or inside a batch result, in `language` (by default the
 * request's, from Accept-Language): its `title`, and its `detail` when that is the catalogue's title.
 */
export function problemDocument(
  request: FastifyRequest,
  error: AppError,
  language: Language = requestLanguage(request),
) {
  const { status } = problemCatalogue[error.code];
  const title = problemCatalogue[error.code].title[language];
  const { headers: _headers, errors, ...extra } = error.extra;
  return {
    type: problemType(error.code),
    title,
    status,
    detail: error.detail ?? title,
    code: error.code,
    requestId: request.id,
    instance: request.url.split('?')[0],
    ...extra,
    ...(errors ? { errors } : {}),
  };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  for (const [name, value] of Object.entries(error.extra.headers ?? {})) reply.header(name, value);
  const language = requestLanguage(request);
  answerLanguage(reply, language);
  return reply
    .code(error.status)
    .type('application/problem+json; charset=utf-8')
    .send(problemDocument(request, error, language));
}

function validationItems(error: FastifyError): ProblemDetailItem[] {
  const where = error.validationContext ?? 'request';
  if (hasZodFastifySchemaValidationErrors(error)) {
    return error.validation.map((item) => {
      const path = item.instancePath.replace(/^\//, '').replaceAll('/', '.');
      return { in: where, ...(path ? { path } : {}), message: item.message ?? 'invalid' };
    });
  }
  return (error.validation ?? []).map((item) => ({
    in: where,
    path: item.instancePath,
    message: item.message ?? 'invalid',
  }));
}

/** Maps any thrown error to an AppError of the catalogue. */
export function toAppError(error: FastifyError | Error): AppError {
  if (error instanceof AppError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const items = validationItems(fastifyError);
    return new AppError(
      'VALIDATION_FAILED',
      items.map((item) => `${item.in}${item.path ? `.${item.path}` : ''}: ${item.message}`).join('; '),
      { errors: items },
    );
  }
  const fromDatabase = translateDatabaseError(error);
  if (fromDatabase) return fromDatabase;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new AppError('PAYLOAD_TOO_LARGE', fastifyError.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', fastifyError.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_PROTO_VIOLATION':
      return new AppError('MALFORMED_BODY', fastifyError.message);
    default:
      break;
  }
  if (fastifyError.statusCode === 429) return new AppError('RATE_LIMITED', fastifyError.message);
  if (fastifyError.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', fastifyError.message);
  if (fastifyError.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', fastifyError.message);
  if (
    fastifyError.statusCode &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500 &&
    !isResponseSerializationError(error)
  ) {
    return new AppError('BAD_REQUEST', fastifyError.message);
  }
  return new AppError('INTERNAL', 'An unexpected error occurred; quote the request id when reporting it.');
}

export const problemsPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      // The client is gone (it aborted, or the idle timeout cut it): nobody reads an answer, and its
      // ECONNRESET is neither the database's nor an internal error.
      if (request.raw.socket?.destroyed === true) {
        request.log.info({ event: 'request.aborted', err: error }, 'the client went away before the answer');
        return reply.code(499).send();
      }
      const problem = toAppError(error);
      if (problem.code === 'SERVICE_OVERLOADED') {
        // Shedding load is the server working as designed: one short line, no stack to build and write, and not
        // at warn, which would flood the log exactly when the server is busiest.
        request.log.info({ code: problem.code, detail: problem.detail }, 'request shed');
      } else if (problem.status >= 500) {
        request.log.error({ err: error, code: problem.code }, 'request failed');
      } else {
        request.log.info({ code: problem.code, detail: problem.detail }, 'request rejected');
      }
      return sendProblem(request, reply, problem);
    });
    app.setNotFoundHandler((request, reply) =>
      sendProblem(
        request,
        reply,
        new AppError('ROUTE_NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`),
      ),
    );
  },
  { name: 'problems', fastify: '5.x' },
);
