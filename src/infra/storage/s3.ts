// The S3-compatible store: objects under `${prefix}<key>` in one bucket, staged under `${prefix}staging/`
// (a multipart upload of unknown length, hashed and measured on the way) and committed by a server-side
// copy. S3 has no rename: a crash between the copy and the delete leaves a staging object that sweep()
// removes later, never a committed object with missing bytes.
//
// Failures of the server (unreachable, 5xx, refused credentials, …) become StorageErrors (503/507), so that
// its ECONNREFUSED is never taken for the database's; a missing object stays what it is.
//
// `prefix` is used as given: pass 'photos/' (with the slash) to get 'photos/originals/…'.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type BlobStore, Meter, type StagedObject, stagedUploadLost, storageFailure } from './storage.js';

export interface S3StoreOptions {
  /** An S3-compatible endpoint (MinIO, Garage, R2, …); AWS itself when absent. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Both or neither: without them the SDK's default chain (environment, instance role, …) is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `http://host/bucket/key` rather than `http://bucket.host/key`: what most self-hosted servers need. */
  forcePathStyle: boolean;
  prefix?: string;
}

/** lib-storage's minimum; an upload smaller than one part goes up as a single PutObject. */
const PART_SIZE = 5 * 1024 * 1024;
/** Parts in flight per upload: bounds the memory one upload holds to about (QUEUE_SIZE + 1) × PART_SIZE. */
const QUEUE_SIZE = 2;

interface S3LikeError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

const isNotFound = (error: unknown): boolean => {
  const e = error as S3LikeError | undefined;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
};

/** `operation`'s failures as StorageErrors, except a missing object (answered by the caller). */
async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw isNotFound(error) ? error : storageFailure(error);
  }
}

const isNotImplemented = (error: unknown): boolean => {
  const e = error as S3LikeError | undefined;
  return e?.name === 'NotImplemented' || e?.name === 'MethodNotAllowed' || e?.$metadata?.httpStatusCode === 501;
};

export function createS3Store(options: S3StoreOptions): BlobStore {
  const { bucket } = options;
  const prefix = options.prefix ?? '';
  const stagingPrefix = `${prefix}staging/`;
  if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
    throw new Error('S3 credentials need both an access key id and a secret access key, or neither');
  }
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.accessKeyId && options.secretAccessKey
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
      : {}),
    // Since 3.729 the SDK sends CRC32 checksums (and aws-chunked bodies for streams) on every upload by
    // default; many S3-compatible servers reject those. Only where the API demands a checksum.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A store that stops answering fails the request instead of holding an upload forever.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
    maxAttempts: 3,
  });

  const objectKey = (key: string) => {
    if (key === '' || key.includes('..') || key.startsWith('/') || key.includes('\0'))
      throw new Error(`invalid storage key ${key}`);
    return `${prefix}${key}`;
  };
  /** The copy source header is `bucket/key`, URL-encoded segment by segment. */
  const copySource = (key: string) => `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const deleteObject = async (key: string) => {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  };
  /** When a staging key was made: from its name (`<ms>-<uuid>`), else as the server recorded it. */
  /** When a staged object was last written: its LastModified (the end of its upload), else its name's start time. */
  const startedAt = (key: string, recorded: Date | undefined): number => {
    if (recorded) return recorded.getTime();
    const started = Number(key.slice(stagingPrefix.length).split('-')[0]);
    return Number.isFinite(started) && started > 0 ? started : Number.NaN;
  };

  return {
    driver: 's3',

    async stage(input: Readable, maxBytes: number): Promise<StagedObject> {
      const staging = `${stagingPrefix}${Date.now()}-${randomUUID()}`;
      // The first failure, wherever it happened: the input, the limit, or the upload. What follows from it
      // (the other side torn down, an AbortError, an abort the server refuses) must not hide it.
      let cause: unknown;
      /** Whether the server's side failed first (then the failure is the store's, not the client's). */
      let storeFailedFirst = false;
      const noteInputError = (error: unknown) => {
        cause ??= error;
      };
      input.on('error', noteInputError);
      const meter = new Meter(maxBytes);
      meter.on('error', (error) => {
        cause ??= error;
      });
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: staging, Body: meter },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      // Both sides must settle before cleaning up: a part or a single PutObject still in flight would
      // otherwise land after the delete. A failure of the input or of the meter destroys `meter`, which
      // fails the upload's reader; lib-storage then aborts the multipart upload itself once its part
      // uploads are done. (Upload.abort() would instead reject at once and leave requests running.)
      // A failed upload destroys `meter` too, so that the input is not left stuck on backpressure.
      const [piped, uploaded] = await Promise.allSettled([
        pipeline(input, meter),
        upload.done().catch((error: unknown) => {
          if (cause === undefined) storeFailedFirst = true;
          cause ??= error;
          meter.destroy(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }),
      ]);
      input.off('error', noteInputError);
      let failure: unknown;
      let result: ReturnType<Meter['result']> | undefined;
      if (piped.status === 'rejected' || uploaded.status === 'rejected') {
        failure = cause ?? (piped.status === 'rejected' ? piped.reason : (uploaded as PromiseRejectedResult).reason);
        if (storeFailedFirst) failure = storageFailure(failure);
      } else {
        // What the server holds must be what went through the meter, byte for byte in count.
        const head = await client
          .send(new HeadObjectCommand({ Bucket: bucket, Key: staging }))
          .catch((error: unknown) => error);
        const stored = (head as { ContentLength?: number }).ContentLength;
        const sent = meter.result();
        if (stored !== sent.size)
          failure = storageFailure(
            head instanceof Error
              ? head
              : new Error(`staged object ${staging} holds ${String(stored)} bytes, ${sent.size} were sent`),
          );
        else result = sent;
      }
      if (failure !== undefined) {
        await deleteObject(staging).catch(() => undefined);
        throw failure;
      }

      let settled = false;
      return {
        ...result!,
        async commit(key, contentType) {
          const target = objectKey(key);
          const existing = await guarded(() =>
            client.send(new HeadObjectCommand({ Bucket: bucket, Key: target })),
          ).then(
            () => true,
            (error: unknown) => {
              if (isNotFound(error)) return false;
              throw error;
            },
          );
          if (!existing) {
            await client
              .send(
                new CopyObjectCommand({
                  Bucket: bucket,
                  Key: target,
                  CopySource: copySource(staging),
                  ContentType: contentType,
                  MetadataDirective: 'REPLACE',
                }),
              )
              .catch((error: unknown) => {
                // The staged object gone (swept while its upload stalled) is this upload's loss, not an outage.
                throw isNotFound(error) ? stagedUploadLost(error) : storageFailure(error);
              });
          }
          await guarded(() => deleteObject(staging));
          settled = true;
        },
        async discard() {
          if (!settled) await guarded(() => deleteObject(staging));
          settled = true;
        },
      };
    },

    async stat(key) {
      const target = objectKey(key);
      try {
        const head = await guarded(() => client.send(new HeadObjectCommand({ Bucket: bucket, Key: target })));
        return { size: head.ContentLength ?? 0 };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    async read(key, range) {
      const target = objectKey(key);
      if (
        range &&
        !(
          Number.isSafeInteger(range.start) &&
          Number.isSafeInteger(range.end) &&
          range.start >= 0 &&
          range.end >= range.start
        )
      ) {
        throw new Error(`invalid byte range ${range.start}-${range.end}`);
      }
      const response = await guarded(() =>
        client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: target,
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        ),
      );
      const body = response.Body;
      if (!(body instanceof Readable)) throw new Error(`GetObject ${target} returned no readable body`);
      if (range) {
        // Never pass other bytes off as the range: a server that ignores Range answers 200 with the whole
        // object, and one (s3rver) reads `bytes=0-0` as `bytes=0-` and sends it all under a 206.
        const served = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.ContentRange ?? '');
        const start = Number(served?.[1]);
        const end = Number(served?.[2]);
        const total = Number(served?.[3]);
        const exact = start === range.start && (end === range.end || (end < range.end && end === total - 1));
        if (response.$metadata.httpStatusCode !== 206 || !exact) {
          body.destroy();
          const answer = response.ContentRange ?? `status ${response.$metadata.httpStatusCode}`;
          throw new Error(`GetObject ${target} answered bytes=${range.start}-${range.end} with ${answer}`);
        }
      }
      return body;
    },

    async put(key, body, contentType) {
      const target = objectKey(key);
      await guarded(() =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: target, Body: body, ContentType: contentType })),
      );
    },

    async probe(signal) {
      // Bounded by the caller's signal (retries included): readiness must answer fast.
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal }).catch((error: unknown) => {
        throw storageFailure(error);
      });
    },

    sweep(olderThanMs) {
      return guarded(() => sweepStaging(olderThanMs));
    },

    async close() {
      client.destroy();
    },
  };

  async function sweepStaging(olderThanMs: number): Promise<number> {
    const now = Date.now();
    const isOld = (started: number) => Number.isFinite(started) && now - started > olderThanMs;
    let removed = 0;

    let continuationToken: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: stagingPrefix,
          ...(continuationToken ? { ContinuationToken: continuationToken } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key && isOld(startedAt(object.Key, object.LastModified))) {
          await deleteObject(object.Key);
          removed += 1;
        }
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);

    // A process killed mid-upload leaves an unfinished multipart upload (invisible to listings, but
    // billed). Servers that do not implement the listing are skipped; a lifecycle rule
    // (AbortIncompleteMultipartUpload) does the same job there.
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      do {
        const page = await client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: stagingPrefix,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        );
        for (const pending of page.Uploads ?? []) {
          if (pending.Key && pending.UploadId && isOld(startedAt(pending.Key, pending.Initiated))) {
            await client
              .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: pending.Key, UploadId: pending.UploadId }))
              .catch((error: unknown) => {
                if (!isNotFound(error)) throw error;
              });
            removed += 1;
          }
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
    } catch (error) {
      if (!isNotImplemented(error)) throw error;
    }
    return removed;
  }
}
