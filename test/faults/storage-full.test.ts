// A full photo disk: DATA_DIR/blobs is a real 2 MB filesystem (tmpfs, mounted by this test as root), filled
// by photo uploads while phones keep sending reports. Uploads that no longer fit are refused with 507
// STORAGE_FULL and Retry-After (never a 500), reports keep being acknowledged, and nothing is half-written:
// every photo row has its object, every object its row, and no staged or temporary file is left.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { registrySample } from '../helpers/factories.js';
import { expectAcknowledgedStoredOnce, newStats, phoneReport, runPhones } from '../helpers/phones.js';
import {
  adminHeaders,
  ensureBuilt,
  killAllServers,
  type ServerProcess,
  startServer,
  TEST_ADMIN_TOKEN,
  waitForOk,
} from '../helpers/server-process.js';

const sample = registrySample;
const DISK = '2m';
const MAX_UPLOADS = 40;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let dataDir = '';
let blobs = '';
let mounted = false;
let server: ServerProcess;
let base = '';
let reportId = '';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? filesUnder(join(dir, entry.name)) : Promise.resolve([join(dir, entry.name)]),
    ),
  );
  return nested.flat();
}

/** A JPEG of random pixels (so it does not compress): about 250 KB, different each time. */
async function noisePhoto(): Promise<Buffer> {
  const width = 400;
  const height = 300;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i += 1) pixels[i] = Math.floor(Math.random() * 256);
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

async function upload(
  photo: Buffer,
): Promise<{ status: number; body: string; retryAfter: string | null; contentType: string | null }> {
  const boundary = `----testigo${randomUUID()}`;
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
    photo,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const response = await fetch(`${base}/v1/reports/${reportId}/photos`, {
    method: 'POST',
    headers: { ...adminHeaders, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  return {
    status: response.status,
    body: await response.text(),
    retryAfter: response.headers.get('retry-after'),
    contentType: response.headers.get('content-type'),
  };
}

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-fault-full-'));
  blobs = join(dataDir, 'blobs');
  await mkdir(blobs);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK}`, 'tmpfs', blobs], { stdio: 'pipe' });
    mounted = true;
  } catch (error) {
    throw new Error(
      `The full-disk fault test needs a real small filesystem: mount -t tmpfs -o size=${DISK} tmpfs ${blobs} failed (run the tests as root, or with CAP_SYS_ADMIN): ${(error as Error).message}`,
      { cause: error },
    );
  }
  server = startServer({ DATABASE_URL: db.url, DATA_DIR: dataDir, RATE_LIMIT_PER_TOKEN: '0' });
  base = await server.listening(60_000);
  await waitForOk(`${base}/readyz`, 30_000);
  const imported = await fetch(`${base}/v1/registry/import`, {
    method: 'POST',
    headers: { ...adminHeaders, 'content-type': 'text/csv' },
    body: sample,
  });
  expect(imported.status, await imported.text()).toBe(200);
  const report = phoneReport(0);
  reportId = report.id;
  const created = await fetch(`${base}/v1/reports`, {
    method: 'POST',
    headers: { ...adminHeaders, 'content-type': 'application/json' },
    body: JSON.stringify(report),
  });
  expect(created.status, await created.text()).toBe(201);
}, 180_000);

afterAll(async () => {
  await server?.stop('SIGTERM', 15_000).catch(() => undefined);
  await killAllServers();
  await db?.drop();
  if (mounted) execFileSync('umount', ['-l', blobs], { stdio: 'pipe' });
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('storage that is full', () => {
  it('uploads beyond a full photo disk are refused with 507 STORAGE_FULL, reports keep flowing, nothing is half-written', async () => {
    const phones = runPhones({
      bases: () => [base],
      token: TEST_ADMIN_TOKEN,
      reports: Array.from({ length: 200 }, (_, i) => phoneReport(i + 1)),
      phones: 4,
      deadline: Date.now() + 120_000,
      stats: newStats(),
    });
    const answers: { status: number; body: string; retryAfter: string | null; contentType: string | null }[] = [];
    // Upload until the disk refuses three in a row (bounded): the first ones fit, then it is full.
    for (let i = 0; i < MAX_UPLOADS && answers.slice(-3).filter((answer) => answer.status !== 201).length < 3; i += 1)
      answers.push(await upload(await noisePhoto()));
    const stats = await phones;
    // And once the disk is full, reports still go through.
    await runPhones({
      bases: () => [base],
      token: TEST_ADMIN_TOKEN,
      reports: Array.from({ length: 50 }, (_, i) => phoneReport(i + 201)),
      phones: 4,
      deadline: Date.now() + 60_000,
      stats,
    });
    const statuses = answers.reduce<Record<number, number>>(
      (counts, answer) => ({ ...counts, [answer.status]: (counts[answer.status] ?? 0) + 1 }),
      {},
    );
    console.log(
      `storage full (tmpfs ${DISK}): ${answers.length} uploads answered ${JSON.stringify(statuses)}; refusals: ${answers
        .filter((a) => a.status !== 201)
        .slice(0, 3)
        .map((a) => `${a.status} ${a.body.slice(0, 160)}`)
        .join(' | ')}`,
    );

    // Nothing half-written: each photo row has its object, each object its row; nothing staged or temporary is left.
    let staged = await filesUnder(join(blobs, '.staging'));
    for (
      const deadline = Date.now() + 15_000;
      staged.length > 0 && Date.now() < deadline;
      staged = await filesUnder(join(blobs, '.staging'))
    )
      await sleep(100);
    // Objects are named by their content (src/infra/storage/storage.ts originalKey): one per distinct photo.
    const rows = await db.query<{ key: string }>(
      "SELECT DISTINCT 'originals/' || substr(sha256, 1, 2) || '/' || substr(sha256, 3, 2) || '/' || sha256 AS key FROM photos ORDER BY 1",
    );
    const originals = (await filesUnder(join(blobs, 'originals'))).map((file) => relative(blobs, file)).sort();
    const temporary = (await filesUnder(blobs)).filter((file) => /\.tmp$|\.tmp[-.]/.test(file));
    console.log(
      `storage full: ${rows.length} photo rows, ${originals.length} originals, ${staged.length} staged, ${temporary.length} temporary files`,
    );
    expect(staged).toEqual([]);
    expect(temporary).toEqual([]);
    expect(originals).toEqual(rows.map((row) => row.key));

    // Reports kept flowing while the photo disk was full.
    await expectAcknowledgedStoredOnce('reports sent while the photo disk filled up', stats, db.query.bind(db), {
      otherReports: 1,
    });
    expect(stats.badAnswers).toEqual([]);
    expect(server.hasExited()).toBe(false);

    // The disk did fill: some uploads fitted, the last were refused, each as 507 STORAGE_FULL with Retry-After.
    expect(statuses[201] ?? 0).toBeGreaterThan(0);
    const refused = answers.filter((answer) => answer.status !== 201);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const answer of refused) {
      expect(answer.status, answer.body).toBe(507);
      expect(answer.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(answer.body).code).toBe('STORAGE_FULL');
      expect(answer.retryAfter).not.toBeNull();
    }
  }, 240_000);
});
