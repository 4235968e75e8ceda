// HTTP routes of photos: the streamed upload to a report, metadata, the original bytes (ETag, Range) and a
// thumbnail without EXIF.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, contextOf } from '../../infra/auth/actor.js';
import { AppError, bodyValidationError } from '../../infra/errors.js';
import { noneMatch } from '../../infra/http/conditional.js';
import { problemResponses } from '../../infra/http/problems.js';
import { parseInput } from '../../infra/http/validation.js';
import type { StagedObject } from '../../infra/storage/storage.js';
import { attachedPhotoSchema, fieldsSchema, idParams, photoSchema } from './photos.schemas.js';
import { PHOTO_KINDS, type PhotoFields } from './photos.service.js';

const binary = (description: string, types: string[]) => ({
  description,
  content: Object.fromEntries(types.map((type) => [type, { schema: { type: 'string', format: 'binary' } }])),
});

/** The single range of a `Range: bytes=…` header, undefined for none (or several: the whole file is sent). */
export function rangeOf(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (!match[1] && !match[2])) {
    if (/^bytes=.*,/.test(header)) return undefined;
    throw new AppError('RANGE_NOT_SATISFIABLE', 'Send one range as bytes=start-end', {
      headers: { 'content-range': `bytes */${size}` },
    });
  }
  const start = match[1] ? Number(match[1]) : Math.max(0, size - Number(match[2]));
  const end = match[1] && match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
  if (start >= size || start > end)
    throw new AppError('RANGE_NOT_SATISFIABLE', `The file has ${size} bytes`, {
      headers: { 'content-range': `bytes */${size}` },
    });
  return { start, end };
}

export async function photosRoutes(app: FastifyInstance, options: { maxBytes: number }): Promise<void> {
  const service = app.services.photos;
  const route = app.withTypeProvider<ZodTypeProvider>();

  /** Reads the multipart body: the file is staged as it streams in; the few fields are checked. */
  async function readUpload(request: FastifyRequest): Promise<{ staged: StagedObject; fields: PhotoFields }> {
    if (!request.isMultipart())
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the photo as multipart/form-data with a part named "file"');
    const fields: Record<string, string> = {};
    let staged: StagedObject | undefined;
    try {
      const parts = request.parts({
        limits: { fileSize: options.maxBytes + 1, files: 2, fields: 5, fieldSize: 1000, parts: 8, headerPairs: 50 },
      });
      for await (const part of parts) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file')
            throw new AppError('VALIDATION_FAILED', `Unexpected file part "${part.fieldname}"`, {
              errors: [{ in: 'body', path: part.fieldname, message: 'only one part named file' }],
            });
          if (staged) throw new AppError('PHOTO_TOO_MANY_FILES', 'Send one photo per request');
          staged = await app.storage.stage(part.file, options.maxBytes);
        } else {
          if (part.valueTruncated || part.fieldnameTruncated)
            throw new AppError('VALIDATION_FAILED', `Field ${part.fieldname} is too long`);
          fields[part.fieldname] = String(part.value);
        }
      }
      if (!staged) throw new AppError('PHOTO_FILE_MISSING', 'The multipart body has no part named "file"');
      const parsed = parseInput(fieldsSchema, fields);
      if (!parsed.success) throw bodyValidationError(parsed.error.issues);
      return { staged, fields: parsed.data };
    } catch (error) {
      await staged?.discard();
      throw error;
    }
  }

  route.post(
    '/v1/reports/:id/photos',
    {
      config: {
        roles: ['admin', 'coordinator', 'observer'],
        rawBody: {
          description:
            'multipart/form-data: one part `file` (JPEG, PNG, WebP or HEIC), and optional fields caption, capturedAt (ISO time) and kind.',
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file'],
                properties: {
                  file: { type: 'string', format: 'binary' },
                  caption: { type: 'string' },
                  capturedAt: { type: 'string', format: 'date-time' },
                  kind: { type: 'string', enum: [...PHOTO_KINDS] },
                },
              },
            },
          },
        },
      },
      schema: {
        tags: ['photos'],
        operationId: 'photos.create',
        summary: 'Attach a photo to a report (the author, or a coordinator or admin in scope)',
        description:
          '201 with the photo; the same bytes for the same report again answer 200 with the existing photo, storing ' +
          "nothing twice. Both carry `receipt`, the log's receipt of the photo's entry.",
        params: idParams,
        response: {
          200: attachedPhotoSchema,
          201: attachedPhotoSchema,
          ...problemResponses(400, 401, 403, 404, 413, 415, 422, 429, 503, 507),
        },
      },
    },
    async (request, reply) => {
      const context = contextOf(request);
      await service.mayAttach(context.actor, request.params.id);
      const { staged, fields } = await readUpload(request);
      const result = await service.attach(context, request.params.id, staged, fields);
      if (result.status === 'created')
        request.log.info(
          { event: 'photo.attached', photoId: result.photo.id, size: result.photo.size },
          'photo attached',
        );
      return reply.code(result.status === 'created' ? 201 : 200).send({ ...result.photo, receipt: result.receipt });
    },
  );

  route.get(
    '/v1/photos/:id',
    {
      schema: {
        tags: ['photos'],
        operationId: 'photos.get',
        summary: "A photo's metadata",
        params: idParams,
        response: { 200: photoSchema, ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => service.get(actorOf(request), request.params.id),
  );

  const sendBinary = (reply: FastifyReply, etag: string) =>
    reply
      .header('etag', etag)
      .header('cache-control', 'private, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff');

  route.get(
    '/v1/photos/:id/content',
    {
      config: {
        rawResponse: binary('The original bytes, exactly as received', [
          'image/jpeg',
          'image/png',
          'image/webp',
          'image/heic',
          'image/heif',
        ]),
      },
      schema: {
        tags: ['photos'],
        operationId: 'photos.content',
        summary: 'The original bytes (ETag, If-None-Match, Range)',
        params: idParams,
        response: {
          200: z.string(),
          206: z.string().meta({ description: 'The requested byte range' }),
          ...problemResponses(400, 401, 404, 416, 429),
        },
      },
    },
    async (request, typedReply) => {
      const reply = typedReply as unknown as FastifyReply; // binary bodies and 206/304 are outside the JSON schemas
      const { photo } = await service.original(actorOf(request), request.params.id);
      const etag = `"${photo.sha256}"`;
      sendBinary(reply, etag).header('accept-ranges', 'bytes');
      if (noneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();
      const range = rangeOf(request.headers.range, photo.size);
      const { body } = await service.original(actorOf(request), request.params.id, range);
      reply
        .type(photo.contentType)
        .header('content-disposition', `attachment; filename="photo-${photo.id}.${photo.contentType.split('/')[1]}"`);
      if (range)
        reply
          .code(206)
          .header('content-range', `bytes ${range.start}-${range.end}/${photo.size}`)
          .header('content-length', range.end - range.start + 1);
      else reply.header('content-length', photo.size);
      return reply.send(await body());
    },
  );

  route.get(
    '/v1/photos/:id/thumbnail',
    {
      config: { rawResponse: binary('A WebP of at most 320×320, without EXIF or GPS', ['image/webp']) },
      schema: {
        tags: ['photos'],
        operationId: 'photos.thumbnail',
        summary: 'A small WebP without EXIF or GPS (made once, then cached)',
        params: idParams,
        response: { 200: z.string(), ...problemResponses(400, 401, 404, 422, 429, 503) },
      },
    },
    async (request, typedReply) => {
      const reply = typedReply as unknown as FastifyReply;
      const { photo, body } = await service.thumbnail(actorOf(request), request.params.id);
      const etag = `"${photo.sha256}-thumb"`;
      sendBinary(reply, etag).type('image/webp');
      if (noneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();
      return reply.send(body);
    },
  );
}
