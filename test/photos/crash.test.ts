// Uploads cut off halfway, through the built server (dist/server.js): a server SIGKILLed while a photo
// streams in leaves no row, no object and one partial staged file, which the sweeper removes when the
// server starts again; a client that aborts its upload leaves nothing behind on a server that stays up.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { registrySample } from '../helpers/factories.js';
import {
  adminHeaders,
  ensureBuilt,
  killAllServers,
  type ServerProcess,
  startServer,
  waitForOk,
} from '../helpers/server-process.js';

const sample = registrySample;
const FILE_BYTES = 5 * 1024 * 1024;
const STAGING_MAX_AGE_MS = 3000;
/** Below the staging age, as the configuration demands (a stalled upload is cut before it could be swept). */
const IDLE_TIMEOUT_MS = 2000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let dataDir: string;
let server: ServerProcess;
let base = '';
let reportId = '';
let jpegHead: Buffer;

const stagingDir = () => join(dataDir, 'blobs', '.staging');
const originalsDir = () => join(dataDir, 'blobs', 'originals');

function serverEnv(): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    PHOTO_STAGING_MAX_AGE_MS: String(STAGING_MAX_AGE_MS),
    IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? filesUnder(join(dir, entry.name)) : Promise.resolve([join(dir, entry.name)]),
    ),
  );
  return nested.flat();
}

async function stagedFiles(): Promise<{ path: string; name: string; size: number }[]> {
  const names = await readdir(stagingDir()).catch(() => [] as string[]);
  const files = await Promise.all(
    names.map(async (name) => ({
      path: join(stagingDir(), name),
      name,
      size: (await stat(join(stagingDir(), name)).catch(() => undefined))?.size ?? -1,
    })),
  );
  return files.filter((file) => file.size >= 0);
}

const photoRows = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM photos'))[0]!.n;

/** Polls `check` every 50 ms until it returns a value (not undefined), or fails after `timeoutMs`. */
async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function json<T>(
  method: string,
  path: string,
  body: unknown,
  status: number,
  contentType = 'application/json',
): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...adminHeaders, 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  expect(response.status, `${method} ${path}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}

/**
 * Starts a chunked multipart upload of a FILE_BYTES "JPEG" (a real JPEG header, then padding) and writes
 * about half of it, leaving the request open. The request's errors (the server dying) are swallowed.
 */
async function startHalfUpload(): Promise<{ request: ClientRequest; fileBytes: number; errors: Error[] }> {
  const boundary = `----testigo${randomUUID()}`;
  const preamble = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
  );
  const file = Buffer.concat([jpegHead, randomBytes(FILE_BYTES - jpegHead.length)]);
  const errors: Error[] = [];
  const request = httpRequest(`${base}/v1/reports/${reportId}/photos`, {
    method: 'POST',
    agent: false,
    headers: {
      ...adminHeaders,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'transfer-encoding': 'chunked',
    },
  });
  request.on('error', (error) => errors.push(error));
  request.on('response', (response) => response.resume());
  const half = Buffer.concat([preamble, file.subarray(0, FILE_BYTES / 2)]);
  for (let offset = 0; offset < half.length; offset += 64 * 1024) {
    if (!request.write(half.subarray(offset, offset + 64 * 1024)))
      await new Promise((resolve) => request.once('drain', resolve));
  }
  return { request, fileBytes: file.length, errors };
}

/** Waits until the staging area holds one file with bytes in it (the server is writing the upload). */
const waitForStagedBytes = () =>
  poll(
    async () => {
      const files = await stagedFiles();
      return files.length === 1 && files[0]!.size > 0 ? files[0] : undefined;
    },
    15_000,
    'a staged file with bytes in DATA_DIR/blobs/.staging',
  );

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-photo-crash-'));
  jpegHead = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 90, b: 40 } } })
    .withExif({ IFD0: { Make: 'TestPhone', Model: 'T1' }, IFD2: { DateTimeOriginal: '2024:07:28 18:40:00' } })
    .jpeg({ quality: 80 })
    .toBuffer();
  server = startServer(serverEnv());
  base = await server.listening(60_000);
  await waitForOk(`${base}/readyz`, 30_000);
  await json('POST', '/v1/registry/import', sample, 200, 'text/csv');
  await json(
    'PUT',
    '/v1/election',
    {
      name: 'Crash test election',
      date: '2024-07-28',
      timeZone: 'America/Caracas',
      candidates: [
        { code: 'EG', name: 'EG' },
        { code: 'NM', name: 'NM' },
      ],
    },
    200,
  );
  reportId = randomUUID();
  await json(
    'POST',
    '/v1/reports',
    {
      id: reportId,
      kind: 'voting',
      centreCode: '010101001',
      observedAt: '2024-07-28T14:00:00-04:00',
      answers: {
        queueLength: 'short',
        waitingMinutes: 10,
        assistedVotingProblems: false,
        identificationProblems: false,
        securityForces: 'appropriate',
        propagandaNearby: false,
      },
    },
    201,
  );
}, 180_000);

afterAll(async () => {
  await server?.stop('SIGTERM', 15_000).catch(() => undefined);
  await killAllServers();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('uploads cut off halfway', () => {
  it('a server killed mid-upload leaves no row, no object and, after the sweeper, no staged file', async () => {
    const upload = await startHalfUpload();
    const staged = await waitForStagedBytes();
    await server.stop('SIGKILL', 10_000);
    upload.request.destroy();

    expect(await photoRows()).toBe(0);
    expect(await filesUnder(originalsDir())).toEqual([]);
    const leftovers = await stagedFiles();
    expect(leftovers.map((file) => file.name)).toEqual([staged.name]);
    expect(leftovers[0]!.size).toBeGreaterThan(0);
    expect(leftovers[0]!.size).toBeLessThan(upload.fileBytes);

    // The start-up sweep removes staged files older than PHOTO_STAGING_MAX_AGE_MS, named by their start time.
    const startedAt = Number(staged.name.split('-')[0]);
    expect(Number.isFinite(startedAt)).toBe(true);
    await sleep(Math.max(0, startedAt + STAGING_MAX_AGE_MS + 500 - Date.now()));
    server = startServer(serverEnv());
    base = await server.listening(60_000);
    await waitForOk(`${base}/readyz`, 30_000);
    await poll(
      async () => ((await stagedFiles()).length === 0 ? true : undefined),
      5_000,
      'the start-up sweep to empty the staging area',
    );
    await server.waitForLog(
      (line) => line.event === 'storage.swept' && line.removed === 1,
      5_000,
      "the sweep's log line",
    );
    expect(await photoRows()).toBe(0);
    expect(await filesUnder(originalsDir())).toEqual([]);
  }, 120_000);

  it('a client that aborts mid-upload leaves no staged file and no row on a server that stays up', async () => {
    const upload = await startHalfUpload();
    await waitForStagedBytes();
    const abortedAt = Date.now();
    upload.request.destroy();
    await poll(
      async () => ((await stagedFiles()).length === 0 ? true : undefined),
      2_000,
      "the server to remove the aborted upload's staged file",
    );
    expect(Date.now() - abortedAt).toBeLessThan(2_000);
    expect(await photoRows()).toBe(0);
    expect(await filesUnder(originalsDir())).toEqual([]);
    expect(server.hasExited()).toBe(false);
  }, 60_000);

  it('the same upload, sent whole, is stored: 201, one row, one object, nothing staged', async () => {
    const boundary = `----testigo${randomUUID()}`;
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="small.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
      ),
      jpegHead,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await fetch(`${base}/v1/reports/${reportId}/photos`, {
      method: 'POST',
      headers: { ...adminHeaders, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    expect(await photoRows()).toBe(1);
    expect(await filesUnder(originalsDir())).toHaveLength(1);
    // The thumbnail is staged too, right after the answer: wait for it to land.
    await poll(
      async () => ((await filesUnder(join(dataDir, 'blobs', 'thumbnails'))).length === 1 ? true : undefined),
      5_000,
      'the thumbnail',
    );
    expect(await stagedFiles()).toEqual([]);
  }, 60_000);
});
