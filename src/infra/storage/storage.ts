// Where photo bytes live, behind one small interface: the local filesystem under DATA_DIR (default) or an
// S3-compatible store. Uploads are staged first (hashed and measured on the way) and only then committed
// under a key the server derives from the content, so a row can point only at bytes that are all there.
import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { AppError } from '../errors.js';

export interface StagedObject {
  sha256: string;
  size: number;
  /** The first bytes (up to HEAD_BYTES): enough to sniff the type and read image headers and EXIF. */
  head: Buffer;
  /** The last bytes (up to TAIL_BYTES): to spot data appended after the image (polyglots). */
  tail: Buffer;
  /** Moves the staged bytes to `key` (kept as it is when an object with that key exists: same content). */
  commit(key: string, contentType: string): Promise<void>;
  /** Removes the staged bytes. */
  discard(): Promise<void>;
}

export interface ObjectInfo {
  size: number;
}

export interface BlobStore {
  readonly driver: 'local' | 's3';
  /** Streams `input` into a staging area, failing with PAYLOAD_TOO_LARGE past `maxBytes` (nothing left behind). */
  stage(input: Readable, maxBytes: number): Promise<StagedObject>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** The object's bytes, or the inclusive byte range [start, end]. */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Writes a small derived object (a thumbnail) in one go. */
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** Deletes staged leftovers older than `olderThanMs` (an upload cut off by a crash); returns how many. */
  sweep(olderThanMs: number): Promise<number>;
  /** Resolves when the store answers (a cheap call: readiness); rejects with a StorageError otherwise. */
  probe(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * What went wrong in the store itself (never in the client's upload): `full` (ENOSPC, a full bucket) is
 * 507 STORAGE_FULL; `unavailable` (unreachable, failing, refusing our credentials) is 503 STORAGE_UNAVAILABLE;
 * `lost` (a staged upload's bytes gone before the commit, e.g. swept) is 503 STORAGE_UNAVAILABLE for that
 * request only, not an outage. Drivers throw these, so the database translator never sees a store's
 * ECONNREFUSED; the storage plugin logs one alert per outage.
 */
export type StorageFailure = 'full' | 'unavailable' | 'lost';

export class StorageError extends AppError {
  constructor(
    readonly failure: StorageFailure,
    detail: string,
    cause?: unknown,
  ) {
    super(failure === 'full' ? 'STORAGE_FULL' : 'STORAGE_UNAVAILABLE', detail, {
      headers: { 'retry-after': failure === 'full' ? '60' : failure === 'lost' ? '1' : '5' },
    });
    this.name = 'StorageError';
    if (cause !== undefined) this.cause = cause;
  }
}

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** A failure of the store (a driver's own call, never the client's stream) as a StorageError; AppErrors pass. */
export function storageFailure(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const e = error as
    | { code?: unknown; name?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: number } }
    | undefined;
  const full =
    (typeof e?.code === 'string' && FULL_CODES.has(e.code)) ||
    e?.$metadata?.httpStatusCode === 507 ||
    [e?.name, e?.Code].some(
      (name) => typeof name === 'string' && /StorageFull|QuotaExceeded|InsufficientStorage/i.test(name),
    );
  return full
    ? new StorageError('full', 'The photo store is full; nothing was stored. Retry later.', error)
    : new StorageError('unavailable', 'The photo store cannot be reached; nothing was stored. Retry later.', error);
}

/** A staged upload whose bytes vanished before the commit (swept as a leftover, or removed by hand). */
export const stagedUploadLost = (cause?: unknown) =>
  new StorageError('lost', 'The staged upload was removed before it could be stored; send the photo again.', cause);

export const HEAD_BYTES = 256 * 1024;
export const TAIL_BYTES = 16 * 1024;

/**
 * Keeps the first HEAD_BYTES and the last TAIL_BYTES of a stream passing through, and its size, copying
 * each chunk at most once: memory per upload stays bounded (about HEAD_BYTES + TAIL_BYTES + one chunk).
 */
export class Sampler {
  private headChunks: Buffer[] = [];
  private headLength = 0;
  private tailChunks: Buffer[] = [];
  private tailLength = 0;
  size = 0;

  add(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.headLength < HEAD_BYTES) {
      const part = chunk.subarray(0, HEAD_BYTES - this.headLength);
      this.headChunks.push(Buffer.from(part));
      this.headLength += part.length;
    }
    const kept = Buffer.from(chunk.subarray(Math.max(0, chunk.length - TAIL_BYTES)));
    this.tailChunks.push(kept);
    this.tailLength += kept.length;
    while (this.tailChunks.length > 1 && this.tailLength - this.tailChunks[0]!.length >= TAIL_BYTES) {
      this.tailLength -= this.tailChunks.shift()!.length;
    }
  }

  get head(): Buffer {
    return Buffer.concat(this.headChunks);
  }

  get tail(): Buffer {
    const joined = Buffer.concat(this.tailChunks);
    return joined.subarray(Math.max(0, joined.length - TAIL_BYTES));
  }
}

/** Passes an upload through, computing its sha256 and size and sampling it; fails past `maxBytes`. */
export class Meter extends Transform {
  private readonly hash = createHash('sha256');
  private readonly sampler = new Sampler();

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null, data?: Buffer) => void,
  ): void {
    if (this.sampler.size + chunk.length > this.maxBytes)
      return callback(new AppError('PAYLOAD_TOO_LARGE', `The photo exceeds ${this.maxBytes} bytes`));
    this.sampler.add(chunk);
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** What went through, once the stream has ended. */
  result(): Pick<StagedObject, 'sha256' | 'size' | 'head' | 'tail'> {
    return {
      sha256: this.hash.digest('hex'),
      size: this.sampler.size,
      head: this.sampler.head,
      tail: this.sampler.tail,
    };
  }
}

/** The key of an original: content-addressed, never derived from anything the client names. */
export const originalKey = (sha256: string) => `originals/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
export const thumbnailKey = (sha256: string) => `thumbnails/${sha256.slice(0, 2)}/${sha256}.webp`;
