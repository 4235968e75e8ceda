// Photo uploads: 100 distinct ~5 MB JPEGs (gaussian noise, which JPEG cannot shrink) sent at once, each to
// its own report, to the built server with local storage. Measures MB/s, checks every answer is 201 and
// every stored original hashes to the bytes sent, and samples the server's resident memory every 50 ms
// (before, during the uploads, during the thumbnails made after them, after). The baseline writes the same
// 100 buffers to files in-process with fs streams, hashing and fsyncing them: the floor for disk + sha256.
// npm run bench -- photos
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import { adminHeaders, ensureBuilt, killAllServers, startServer, waitForOk } from '../test/helpers/server-process.js';
import { dropDatabases, freshDatabase, memoryOf, type Row, report } from './lib.js';

const PHOTOS = Number(process.env.BENCH_PHOTOS ?? 100);
/** 2350×2350 gaussian noise at quality 95 is about 5.3 MB (5.0 MiB). */
const SIDE = 2350;
const RSS_BUDGET_MB = 100;
const sample = await readFile(new URL('../test/fixtures/registry-sample.csv', import.meta.url), 'utf8');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const mb = (bytes: number) => bytes / 1_048_576;
/** Writes dirty pages back to disk (Linux `sync`), so that a phase does not pay for the previous one's writes. */
const flush = () => execFileSync('sync');

/** PHOTOS distinct noise JPEGs: windows, one row apart, of one noise image (one noise draw, PHOTOS encodes). */
async function makePhotos(): Promise<Buffer[]> {
  const height = SIDE + PHOTOS;
  const raw = await sharp({
    create: {
      width: SIDE,
      height,
      channels: 3,
      background: { r: 128, g: 128, b: 128 },
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .raw()
    .toBuffer();
  const photos: Buffer[] = [];
  for (let first = 0; first < PHOTOS; first += 4) {
    const batch = Array.from({ length: Math.min(4, PHOTOS - first) }, (_, i) =>
      sharp(raw, { raw: { width: SIDE, height, channels: 3 } })
        .extract({ left: 0, top: first + i, width: SIDE, height: SIDE })
        .jpeg({ quality: 95 })
        .toBuffer(),
    );
    photos.push(...(await Promise.all(batch)));
  }
  return photos;
}

interface Answer {
  status: number;
  body: string;
}

function send(
  base: string,
  agent: Agent,
  method: string,
  path: string,
  contentType: string,
  body: Buffer | string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        timeout: 300_000,
        headers: { ...adminHeaders, 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}

async function ok(
  base: string,
  agent: Agent,
  method: string,
  path: string,
  body: unknown,
  status: number,
  contentType = 'application/json',
): Promise<void> {
  const answer = await send(
    base,
    agent,
    method,
    path,
    contentType,
    typeof body === 'string' ? body : JSON.stringify(body),
  );
  if (answer.status !== status) throw new Error(`${method} ${path}: ${answer.status} ${answer.body}`);
}

function multipart(photo: Buffer, index: number): { body: Buffer; contentType: string } {
  const boundary = `----testigobench${randomUUID()}`;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ntally_sheet\r\n`),
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo-${index}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
      ),
      photo,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const counts = await Promise.all(
    entries.map((entry) => (entry.isDirectory() ? countFiles(join(dir, entry.name)) : Promise.resolve(1))),
  );
  return counts.reduce((total, count) => total + count, 0);
}

/** Writes every buffer to its own file at once, through a hashing Transform, in 64 KB chunks; fsyncs if asked. */
async function baseline(photos: Buffer[], fsync: boolean): Promise<{ seconds: number; ok: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'testigo-bench-photos-floor-'));
  try {
    const started = performance.now();
    const hashes = await Promise.all(
      photos.map(async (photo, index) => {
        const path = join(dir, `${index}`);
        const hash = createHash('sha256');
        const chunks = Array.from({ length: Math.ceil(photo.length / 65_536) }, (_, i) =>
          photo.subarray(i * 65_536, (i + 1) * 65_536),
        );
        const hasher = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            callback(null, chunk);
          },
        });
        await pipeline(Readable.from(chunks), hasher, createWriteStream(path));
        if (fsync) {
          const handle = await open(path, 'r');
          await handle.sync();
          await handle.close();
        }
        return hash.digest('hex');
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { seconds, ok: hashes.every((hash, index) => hash === sha256(photos[index]!)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function photosBench(): Promise<void> {
  await ensureBuilt();
  const generated = performance.now();
  const photos = await makePhotos();
  const hashes = photos.map(sha256);
  if (new Set(hashes).size !== PHOTOS) throw new Error('the generated photos are not all distinct');
  const totalBytes = photos.reduce((total, photo) => total + photo.length, 0);
  console.log(
    `generated ${PHOTOS} noise JPEGs of ${SIDE}×${SIDE}, ${mb(totalBytes).toFixed(1)} MB, in ${((performance.now() - generated) / 1000).toFixed(1)} s`,
  );

  const dataDir = await mkdtemp(join(tmpdir(), 'testigo-bench-photos-'));
  const agent = new Agent({ keepAlive: true, maxSockets: PHOTOS });
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    // Rate limits off: one admin token sends 100 reports and 100 photos in seconds; they are not under test.
    // The floor first, each phase starting with the page cache written back (sync), so that one phase's
    // dirty pages are not flushed during the next.
    const floors: Row[] = [];
    for (const fsync of [false, true]) {
      flush();
      const floor = await baseline(photos, fsync);
      floors.push({
        case: `baseline: fs streams + sha256${fsync ? ' + fsync' : ''}`,
        MB: mb(totalBytes),
        seconds: floor.seconds,
        'MB/s': mb(totalBytes) / floor.seconds,
        'sha256 ok': floor.ok ? `${PHOTOS}/${PHOTOS}` : 'mismatch',
      });
    }
    flush();
    const server = startServer({
      DATABASE_URL: await freshDatabase('photos'),
      DATA_DIR: dataDir,
      RATE_LIMIT_PER_TOKEN: '0',
      RATE_LIMIT_PER_IP: '0',
    });
    const base = await server.listening();
    await waitForOk(`${base}/readyz`, 30_000);
    await ok(base, agent, 'POST', '/v1/registry/import', sample, 200, 'text/csv');
    await ok(
      base,
      agent,
      'PUT',
      '/v1/election',
      {
        name: 'Photo bench',
        date: '2024-07-28',
        timeZone: 'America/Caracas',
        candidates: [
          { code: 'EG', name: 'EG' },
          { code: 'NM', name: 'NM' },
        ],
      },
      200,
    );
    const reports = Array.from({ length: PHOTOS }, () => randomUUID());
    for (const id of reports) {
      await ok(
        base,
        agent,
        'POST',
        '/v1/reports',
        {
          id,
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
    }
    const bodies = photos.map(multipart);
    flush();
    await sleep(1000);
    const before = memoryOf(server.pid);
    let peak = before.rssMb;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, memoryOf(server.pid).rssMb);
      } catch {
        // the server is gone; the uploads will say so
      }
    }, 50);

    const started = performance.now();
    const answers = await Promise.all(
      bodies.map((form, index) =>
        send(base, agent, 'POST', `/v1/reports/${reports[index]}/photos`, form.contentType, form.body),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const peakUploads = peak;
    // The thumbnails are made after each answer, off the request: their memory is the server's too.
    const thumbnailsFrom = performance.now();
    const deadline = Date.now() + 300_000;
    while ((await countFiles(join(dataDir, 'blobs', 'thumbnails'))) < PHOTOS && Date.now() < deadline) await sleep(100);
    const thumbnailSeconds = (performance.now() - thumbnailsFrom) / 1000;
    const thumbnails = await countFiles(join(dataDir, 'blobs', 'thumbnails'));
    await sleep(2000);
    clearInterval(sampler);
    const after = memoryOf(server.pid);

    const statuses = answers.reduce<Record<number, number>>(
      (counts, answer) => ({ ...counts, [answer.status]: (counts[answer.status] ?? 0) + 1 }),
      {},
    );
    const created = statuses[201] ?? 0;
    let matching = 0;
    for (const [index, answer] of answers.entries()) {
      if (answer.status !== 201) continue;
      const photo = JSON.parse(answer.body) as { sha256: string; size: number };
      const sha = hashes[index]!;
      const stored = await hashFile(join(dataDir, 'blobs', 'originals', sha.slice(0, 2), sha.slice(2, 4), sha)).catch(
        () => 'missing',
      );
      if (photo.sha256 === sha && photo.size === photos[index]!.length && stored === sha) matching += 1;
    }
    const originals = await countFiles(join(dataDir, 'blobs', 'originals'));
    const staged = await countFiles(join(dataDir, 'blobs', '.staging'));
    const growthUploads = peakUploads - before.rssMb;
    const growth = peak - before.rssMb;
    const pass = created === PHOTOS && matching === PHOTOS && growth < RSS_BUDGET_MB;
    rows.push({
      case: `server: ${PHOTOS} parallel uploads`,
      MB: mb(totalBytes),
      seconds,
      'MB/s': mb(totalBytes) / seconds,
      'answered 201': `${created}/${PHOTOS}`,
      'sha256 ok': `${matching}/${PHOTOS}`,
      'RSS before MB': before.rssMb,
      'RSS peak uploads MB': peakUploads,
      'RSS peak +thumbs MB': peak,
      'RSS after MB': after.rssMb,
      'growth MB': growth,
      [`< ${RSS_BUDGET_MB} MB`]: pass ? 'PASS' : 'FAIL',
    });
    notes.push(
      `answers: ${JSON.stringify(statuses)}; ${originals} originals, ${thumbnails} thumbnails (all made ${thumbnailSeconds.toFixed(1)} s after the last answer), ${staged} staged leftovers`,
      `RSS growth: ${growthUploads.toFixed(1)} MB until the last answer, ${growth.toFixed(1)} MB including the thumbnails made after it (VmHWM ${after.peakMb.toFixed(1)} MB); PASS/FAIL counts the latter`,
    );
    for (const answer of answers.filter((a) => a.status !== 201).slice(0, 3))
      notes.push(`non-201: ${answer.status} ${answer.body.slice(0, 300)}`);
    await server.stop();
    rows.push(...floors);
    notes.push(
      `photos: ${SIDE}×${SIDE} gaussian noise JPEGs, quality 95, ${mb(totalBytes / PHOTOS).toFixed(2)} MB each (MB = 2^20 bytes); client and server share the machine's 2 cores; \`sync\` before each phase`,
      'the server also parses multipart, stages to DATA_DIR/blobs/.staging, fsyncs, sniffs the type, reads EXIF, renames into place and inserts a row per photo',
    );
    await report(
      'photos',
      `Photo uploads (${PHOTOS} × ~5 MB at once, built server, local storage, one process)`,
      rows,
      notes,
    );
  } finally {
    agent.destroy();
    await killAllServers();
    await dropDatabases();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await photosBench();
