// A client that aborts its photo uploads mid-body, 150 times (in the headers' wake, in the multipart
// preamble, at several points of the file), while phones keep sending reports: no photo row, no object and
// no staged file is left once the server has settled, the reports all go through, and the server keeps
// serving (a whole upload afterwards is stored once).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const ABORTED = 150;
const AT_ONCE = 15;
const FILE_BYTES = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let dataDir = '';
let server: ServerProcess;
let base = '';
let reportId = '';
let jpeg: Buffer;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? filesUnder(join(dir, entry.name)) : Promise.resolve([join(dir, entry.name)]),
    ),
  );
  return nested.flat();
}

function multipart(file: Buffer): { boundary: string; body: Buffer; fileStart: number } {
  const boundary = `----testigo${randomUUID()}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
  );
  return {
    boundary,
    body: Buffer.concat([head, file, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    fileStart: head.length,
  };
}

/** Sends the first `cut` bytes of a multipart photo upload, then destroys the connection; resolves when it is gone. */
async function abortedUpload(cut: (body: Buffer, fileStart: number) => number): Promise<void> {
  const { boundary, body, fileStart } = multipart(Buffer.concat([jpeg, randomBytes(FILE_BYTES - jpeg.length)]));
  const bytes = cut(body, fileStart);
  await new Promise<void>((resolve) => {
    const request = httpRequest(`${base}/v1/reports/${reportId}/photos`, {
      method: 'POST',
      agent: false,
      headers: {
        ...adminHeaders,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(body.length),
      },
    });
    request.on('error', () => resolve());
    request.on('close', () => resolve());
    request.on('response', (response) => response.resume());
    request.flushHeaders();
    const send = async () => {
      for (let offset = 0; offset < bytes; offset += 64 * 1024) {
        const chunk = body.subarray(offset, Math.min(bytes, offset + 64 * 1024));
        if (!request.write(chunk)) await new Promise((drained) => request.once('drain', drained));
      }
      // Some go silent for a moment before the phone gives up; others give up at once.
      await sleep(Math.random() * 100);
      request.destroy();
    };
    void send();
  });
}

const photoRows = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM photos'))[0]!.n;

beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'testigo-fault-abort-'));
  jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 120, b: 200 } } })
    .jpeg({ quality: 80 })
    .toBuffer();
  server = startServer({ DATABASE_URL: db.url, DATA_DIR: dataDir, RATE_LIMIT_PER_TOKEN: '0', RATE_LIMIT_PER_IP: '0' });
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
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('a client that aborts uploads mid-body', () => {
  it(`${ABORTED} aborted photo uploads leave no row, no object and no staged file; reports keep flowing`, async () => {
    // Where each upload is cut: in the multipart preamble, just into the file, halfway, and a few bytes before the end.
    const cuts: ((body: Buffer, fileStart: number) => number)[] = [
      (_body, fileStart) => Math.floor(fileStart / 2),
      (_body, fileStart) => fileStart + 100,
      (body) => Math.floor(body.length / 2),
      (body) => body.length - 10,
    ];
    const phones = runPhones({
      bases: () => [base],
      token: TEST_ADMIN_TOKEN,
      reports: Array.from({ length: 300 }, (_, i) => phoneReport(i + 1)),
      phones: 8,
      deadline: Date.now() + 120_000,
      stats: newStats(),
    });
    const started = Date.now();
    let next = 0;
    const client = async () => {
      for (let i = next++; i < ABORTED; i = next++) await abortedUpload(cuts[i % cuts.length]!);
    };
    await Promise.all(Array.from({ length: AT_ONCE }, client));
    const stats = await phones;
    console.log(`aborted uploads: ${ABORTED} uploads aborted (${AT_ONCE} at a time) in ${Date.now() - started} ms`);

    // Once the server has noticed every abort: nothing staged, nothing stored.
    const deadline = Date.now() + 30_000;
    let staged = await filesUnder(join(dataDir, 'blobs', '.staging'));
    while (staged.length > 0 && Date.now() < deadline) {
      await sleep(100);
      staged = await filesUnder(join(dataDir, 'blobs', '.staging'));
    }
    const originals = await filesUnder(join(dataDir, 'blobs', 'originals'));
    console.log(
      `aborted uploads: afterwards ${await photoRows()} photo rows, ${originals.length} objects, ${staged.length} staged files`,
    );
    expect(staged).toEqual([]);
    expect(await photoRows()).toBe(0);
    expect(originals).toEqual([]);

    await expectAcknowledgedStoredOnce('reports sent while uploads were aborted', stats, db.query.bind(db), {
      otherReports: 1,
    });
    expect(stats.badAnswers).toEqual([]);
    expect(server.hasExited()).toBe(false);

    // The server keeps serving: a whole photo is stored, once.
    const { boundary, body } = multipart(jpeg);
    const response = await fetch(`${base}/v1/reports/${reportId}/photos`, {
      method: 'POST',
      headers: { ...adminHeaders, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    expect(await photoRows()).toBe(1);
    expect(await filesUnder(join(dataDir, 'blobs', 'originals'))).toHaveLength(1);
  }, 240_000);
});
