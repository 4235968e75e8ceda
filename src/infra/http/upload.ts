// File uploads for imports: a CSV body (text/csv) or one multipart part named `file`, streamed, under a
// size limit that holds with or without Content-Length.
import { type Readable, Transform } from 'node:stream';
import type {} from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest, preParsingAsyncHookHandler } from 'fastify';
import { AppError } from '../errors.js';

const CSV_TYPES = ['text/csv', 'application/csv'];
const ACCEPTED = /^(text\/csv|application\/csv|multipart\/form-data)\s*(;|$)/i;

/** Hands CSV bodies to routes as streams (registered once per plugin that takes uploads). */
export function acceptCsvStreams(app: FastifyInstance): void {
  app.addContentTypeParser(CSV_TYPES, (_request, payload, done) => done(null, payload));
}

/** Route hook: anything but CSV or multipart is a 415, decided after authentication and before any body parser runs. */
export const requireCsvUpload: preParsingAsyncHookHandler = async (request, _reply, payload) => {
  if (!ACCEPTED.test(request.headers['content-type'] ?? '')) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      'Send the file as a text/csv body or a multipart/form-data part named "file"',
    );
  }
  return payload;
};

/** Passes bytes through and fails the stream once more than `maxBytes` went by. */
export function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new AppError('PAYLOAD_TOO_LARGE', `The file exceeds ${maxBytes} bytes`));
      else callback(null, chunk);
    },
  });
}

/** `source` through byteLimit(maxBytes), with the source's errors (a client gone) passed on. */
function limited(source: Readable, maxBytes: number): Readable {
  const limit = byteLimit(maxBytes);
  source.on('error', (error) => limit.destroy(error));
  return source.pipe(limit);
}

/** The uploaded file as a stream: the CSV body, or the multipart part named `file`. */
export async function uploadedFile(request: FastifyRequest, maxBytes: number): Promise<Readable> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes + 64 * 1024) throw new AppError('PAYLOAD_TOO_LARGE', `The file exceeds ${maxBytes} bytes`);
  if (request.isMultipart()) {
    // busboy stops one byte past the limit, so that byteLimit, not a silent truncation, ends the upload.
    const parts = request.parts({
      limits: { fileSize: maxBytes + 1, files: 1, fields: 5, fieldSize: 1024, parts: 6, headerPairs: 100 },
    });
    for await (const part of parts) {
      if (part.type === 'file' && part.fieldname === 'file') return limited(part.file, maxBytes);
      if (part.type === 'file') part.file.resume();
    }
    throw new AppError('IMPORT_FILE_MISSING', 'The multipart body has no part named "file"');
  }
  if (!request.body) throw new AppError('IMPORT_FILE_MISSING', 'The request has no body');
  return limited(request.body as Readable, maxBytes);
}
