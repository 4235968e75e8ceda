// One contract for both blob stores: the local filesystem driver and the S3 driver against s3rver, an
// S3-compatible server run in this process. Each test also looks at the storage itself (the staging
// folder, the bucket listing and s3rver's files) to prove that nothing is left behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/infra/errors.js';
import { createLocalStore } from '../../src/infra/storage/local.js';
import { createS3Store } from '../../src/infra/storage/s3.js';
import { type BlobStore, HEAD_BYTES, originalKey, TAIL_BYTES, thumbnailKey } from '../../src/infra/storage/storage.js';
import { startS3 } from '../helpers/s3.js';

const MiB = 1024 * 1024;
/** The S3 driver's part size: inputs past it go up as multipart uploads. */
const PART = 5 * MiB;

interface Harness {
  store: BlobStore;
  /** The staged objects, as the store's own listing shows them. */
  staged(): Promise<string[]>;
  /** Everything a failed or discarded upload could leave: staged objects, their files, unfinished multipart uploads. */
  leftovers(): Promise<string[]>;
  /** Committed keys, relative to the store's root (the staging area left out). */
  keys(): Promise<string[]>;
  /** The stored Content-Type, where the driver keeps one. */
  contentType(key: string): Promise<string | undefined>;
  /**
   * s3rver answers AbortMultipartUpload with 405 MethodNotAllowed: an upload that failed past its first part
   * stays in its files (the driver does send the abort). Removes those and returns their keys; [] elsewhere.
   */
  dropUnabortedUploads(): Promise<string[]>;
  stop(): Promise<void>;
}

const filesUnder = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name)));
};

async function localHarness(): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'testigo-blobs-'));
  const root = join(dataDir, 'blobs');
  const staged = () => readdir(join(root, '.staging')).catch(() => [] as string[]);
  return {
    store: createLocalStore(dataDir),
    staged,
    leftovers: staged,
    keys: async () => (await filesUnder(root)).filter((path) => !path.startsWith('.staging/')),
    contentType: async () => undefined,
    dropUnabortedUploads: async () => [],
    stop: () => rm(dataDir, { recursive: true, force: true }),
  };
}

async function s3Harness(): Promise<Harness> {
  const s3 = await startS3();
  const prefix = 't/';
  const store = createS3Store({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    prefix,
  });
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const listBucket = async (): Promise<string[]> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, ...(token ? { ContinuationToken: token } : {}) }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  };
  const staged = async () => (await listBucket()).filter((key) => key.startsWith(`${prefix}staging/`));
  const bucketDir = join(s3.directory, s3.bucket);
  return {
    store,
    staged,
    async leftovers() {
      const files = await filesUnder(join(bucketDir, 't', 'staging'));
      const uploads = await readdir(join(bucketDir, '._S3rver_uploads')).catch(() => [] as string[]);
      return [
        ...(await staged()),
        ...files.map((file) => `file:${file}`),
        ...uploads.map((upload) => `upload:${upload}`),
      ];
    },
    async keys() {
      const keys = await listBucket();
      const outside = keys.filter((key) => !key.startsWith(prefix));
      if (outside.length > 0) throw new Error(`objects outside the prefix: ${outside.join(', ')}`);
      return keys.map((key) => key.slice(prefix.length)).filter((key) => !key.startsWith('staging/'));
    },
    async contentType(key) {
      return (await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${key}` }))).ContentType;
    },
    async dropUnabortedUploads() {
      const uploadsDir = join(bucketDir, '._S3rver_uploads');
      const uploads = await readdir(uploadsDir).catch(() => [] as string[]);
      const keys = await Promise.all(uploads.map((upload) => readFile(join(uploadsDir, upload, 'key'), 'utf8')));
      await rm(uploadsDir, { recursive: true, force: true });
      return keys;
    },
    async stop() {
      client.destroy();
      await s3.stop();
    },
  };
}

/** `data` as a client upload would arrive: in 64 KiB chunks. */
const streamOf = (data: Buffer, chunkSize = 64 * 1024) =>
  Readable.from(
    (function* () {
      for (let offset = 0; offset < data.length; offset += chunkSize) yield data.subarray(offset, offset + chunkSize);
    })(),
  );

/** Sends the first `failAt` bytes of `data`, then errors, as a request cut off mid-body does. */
const failingStream = (data: Buffer, failAt: number) => {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= failAt) {
        this.destroy(new Error('the client went away'));
        return;
      }
      const end = Math.min(failAt, offset + 64 * 1024);
      this.push(data.subarray(offset, end));
      offset = end;
    },
  });
};

const readAll = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
};

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe.each([
  { driver: 'local', make: localHarness },
  { driver: 's3', make: s3Harness },
])('$driver blob store', ({ driver, make }) => {
  let h: Harness;

  beforeAll(async () => {
    h = await make();
    expect(h.store.driver).toBe(driver);
  });

  afterAll(async () => {
    await h?.store.close();
    await h?.stop();
  });

  // 3 MiB goes up to S3 in one PutObject; 7 MiB as a two-part multipart upload.
  it.each([3 * MiB + 123, 7 * MiB + 5])('stages, commits and reads back %i random bytes exactly', async (size) => {
    const data = randomBytes(size);
    const staged = await h.store.stage(streamOf(data), 16 * MiB);
    expect(staged.sha256).toBe(sha256(data));
    expect(staged.size).toBe(size);
    expect(staged.head.equals(data.subarray(0, HEAD_BYTES))).toBe(true);
    expect(staged.tail.equals(data.subarray(size - TAIL_BYTES))).toBe(true);
    expect(await h.staged()).toHaveLength(1);

    const key = originalKey(staged.sha256);
    await staged.commit(key, 'image/jpeg');
    expect(await h.leftovers()).toEqual([]);
    expect(await h.keys()).toContain(key);
    expect(await h.store.stat(key)).toEqual({ size });
    if (driver === 's3') expect(await h.contentType(key)).toBe('image/jpeg');

    expect((await readAll(await h.store.read(key))).equals(data)).toBe(true);
    for (const range of [
      { start: 0, end: 1 },
      { start: 1000, end: 300_000 },
      { start: PART - 10, end: PART + 10 }, // across the part boundary of a multipart upload
      { start: size - 1, end: size - 1 },
      { start: size - 100, end: size + 100 }, // past the end: up to the last byte, as HTTP has it
    ].filter((range) => range.start < size)) {
      const part = await readAll(await h.store.read(key, range));
      expect(part.equals(data.subarray(range.start, range.end + 1)), `bytes ${range.start}-${range.end}`).toBe(true);
    }

    // s3rver serves `bytes=0-0` as `bytes=0-` (it reads the end as `end || Infinity`), under a 206: the
    // driver must refuse that rather than return the whole object as one byte.
    if (driver === 's3')
      await expect(h.store.read(key, { start: 0, end: 0 })).rejects.toThrow(/answered bytes=0-0 with bytes 0-/);
    else expect((await readAll(await h.store.read(key, { start: 0, end: 0 }))).equals(data.subarray(0, 1))).toBe(true);
  });

  it('keeps one object when the same content is committed twice', async () => {
    const data = randomBytes(MiB + 7);
    const first = await h.store.stage(streamOf(data), 4 * MiB);
    const key = originalKey(first.sha256);
    await first.commit(key, 'image/png');
    const second = await h.store.stage(streamOf(data), 4 * MiB);
    expect(second.sha256).toBe(first.sha256);
    await second.commit(key, 'image/png');

    expect((await h.keys()).filter((stored) => stored === key)).toHaveLength(1);
    expect(await h.leftovers()).toEqual([]);
    expect((await readAll(await h.store.read(key))).equals(data)).toBe(true);
  });

  it('discard removes the staged bytes', async () => {
    const data = randomBytes(2 * MiB);
    const staged = await h.store.stage(streamOf(data), 4 * MiB);
    expect(await h.staged()).toHaveLength(1);
    await staged.discard();
    await staged.discard(); // twice is harmless
    expect(await h.leftovers()).toEqual([]);
    expect(await h.store.stat(originalKey(staged.sha256))).toBeUndefined();
  });

  it('accepts exactly maxBytes', async () => {
    const data = randomBytes(MiB);
    const staged = await h.store.stage(streamOf(data), MiB);
    expect(staged.size).toBe(MiB);
    await staged.discard();
    expect(await h.leftovers()).toEqual([]);
  });

  it('rejects past maxBytes with PAYLOAD_TOO_LARGE and leaves nothing', async () => {
    const error = await h.store.stage(streamOf(randomBytes(3 * MiB)), MiB).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413 });
    expect(await h.leftovers()).toEqual([]);
  });

  it('rejects past maxBytes after a first part went up, and leaves no staged object', async () => {
    const error = await h.store.stage(streamOf(randomBytes(8 * MiB)), PART + MiB).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    // On s3rver the one multipart upload stays (its abort got a 405); proves the multipart path ran.
    expect(await h.dropUnabortedUploads()).toEqual(
      driver === 's3' ? [expect.stringMatching(/^t\/staging\/\d+-[0-9a-f-]{36}$/)] : [],
    );
    expect(await h.leftovers()).toEqual([]);
  });

  it('rejects an input that errors halfway and leaves nothing', async () => {
    const data = randomBytes(3 * MiB);
    await expect(h.store.stage(failingStream(data, 1.5 * MiB), 16 * MiB)).rejects.toThrow('the client went away');
    expect(await h.leftovers()).toEqual([]);
  });

  it('rejects an input that errors after a first part went up, and leaves no staged object', async () => {
    const data = randomBytes(8 * MiB);
    await expect(h.store.stage(failingStream(data, PART + MiB), 16 * MiB)).rejects.toThrow('the client went away');
    // On s3rver the one multipart upload stays (its abort got a 405); proves the multipart path ran.
    expect(await h.dropUnabortedUploads()).toEqual(
      driver === 's3' ? [expect.stringMatching(/^t\/staging\/\d+-[0-9a-f-]{36}$/)] : [],
    );
    expect(await h.leftovers()).toEqual([]);
  });

  it('puts a small object and reads it back', async () => {
    const body = randomBytes(40_000);
    const key = thumbnailKey(sha256(body));
    await h.store.put(key, body, 'image/webp');
    expect(await h.store.stat(key)).toEqual({ size: body.length });
    expect((await readAll(await h.store.read(key))).equals(body)).toBe(true);
    expect((await readAll(await h.store.read(key, { start: 10, end: 19 }))).equals(body.subarray(10, 20))).toBe(true);
    if (driver === 's3') expect(await h.contentType(key)).toBe('image/webp');
    expect(await h.leftovers()).toEqual([]);
  });

  it('answers undefined for a missing key and refuses keys with ..', async () => {
    expect(await h.store.stat(originalKey('f'.repeat(64)))).toBeUndefined();
    await expect(h.store.stat('originals/../../etc/passwd')).rejects.toThrow(/invalid storage key/);
    await expect(h.store.read('../x')).rejects.toThrow(/invalid storage key/);
    await expect(h.store.put('thumbnails/../../x', Buffer.from('x'), 'text/plain')).rejects.toThrow(
      /invalid storage key/,
    );
    const staged = await h.store.stage(streamOf(Buffer.from('hello')), 100);
    await expect(staged.commit('../escape', 'text/plain')).rejects.toThrow(/invalid storage key/);
    await staged.discard();
    expect(await h.leftovers()).toEqual([]);
  });

  it('a staged upload swept before its commit fails the commit with 503 STORAGE_UNAVAILABLE (not a 500), leaving nothing', async () => {
    const staged = await h.store.stage(streamOf(randomBytes(3000)), MiB);
    await sleep(20);
    expect(await h.store.sweep(0)).toBe(1); // as the sweeper would, had the upload stalled past the staging age
    const error = await staged.commit(originalKey(staged.sha256), 'image/jpeg').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', status: 503, failure: 'lost' });
    await staged.discard();
    expect(await h.store.stat(originalKey(staged.sha256))).toBeUndefined();
    expect(await h.leftovers()).toEqual([]);
  });

  it('sweep removes only staged objects older than asked', async () => {
    const kept = randomBytes(1000);
    const committed = await h.store.stage(streamOf(kept), MiB);
    await committed.commit(originalKey(committed.sha256), 'image/jpeg');
    const abandoned = await h.store.stage(streamOf(randomBytes(2000)), MiB);
    expect(await h.staged()).toHaveLength(1);
    await sleep(20);

    expect(await h.store.sweep(3_600_000)).toBe(0);
    expect(await h.staged()).toHaveLength(1);
    expect(await h.store.sweep(0)).toBe(1);
    expect(await h.leftovers()).toEqual([]);
    expect(await h.store.stat(originalKey(committed.sha256))).toEqual({ size: kept.length });
    await abandoned.discard(); // its bytes are gone already: harmless
    expect(await h.store.sweep(0)).toBe(0);
  });
});

describe('s3 blob store, when the server fails', () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  let store: BlobStore;

  beforeAll(async () => {
    s3 = await startS3();
    const options = {
      endpoint: s3.endpoint,
      region: 'us-east-1',
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      forcePathStyle: true,
    };
    store = createS3Store({ ...options, bucket: 'no-such-bucket' });
  });

  afterAll(async () => {
    await store?.close();
    await s3?.stop();
  });

  // Small: one PutObject after the whole input was read. Large: the multipart upload fails while the
  // input is still arriving; the input must be let go of (not left hanging on backpressure), and the
  // server's error reported rather than the AbortError of the torn-down pipeline.
  it.each([3 * MiB, 40 * MiB])('reports the upload error for %i bytes and lets go of the input', async (size) => {
    const input = streamOf(randomBytes(size));
    const error = await store.stage(input, 64 * MiB).catch((caught: unknown) => caught);
    // The server's refusal, as a storage problem (never the database's): 503 STORAGE_UNAVAILABLE, its cause kept.
    expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', status: 503, cause: { name: 'NoSuchBucket' } });
    expect(input.destroyed).toBe(true);
  });
});
