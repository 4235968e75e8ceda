// A full photo disk, for real: DATA_DIR on a 1 MiB tmpfs (mounted here; as root in CI). A photo that does
// not fit answers 507 STORAGE_FULL with Retry-After and one operations alert in the log; a thumbnail that
// cannot be written answers 503 (the image is fine), and neither leaves a staged or .tmp file behind.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { as } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { capturingLogger, jpeg, prepareReport, uploadPhoto } from '../helpers/photo-upload.js';

const mountPoint = await mkdtemp(join(tmpdir(), 'testigo-full-disk-'));
// No skipping: a machine where this cannot be mounted fails the test, loudly.
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
} catch (error) {
  throw new Error(
    `full-disk tests need to mount a 1 MiB tmpfs at ${mountPoint} (run as root): ${String((error as { stderr?: Buffer }).stderr ?? error)}`,
    { cause: error },
  );
}
const unmount = async () => {
  execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
  await rmdir(mountPoint).catch(() => undefined);
};
afterAll(unmount);

const { logger, lines } = capturingLogger();
const { app, admin, reportId } = await (async () => {
  try {
    const setup = await setupTestApp({
      env: { DATA_DIR: mountPoint, STORAGE_DRIVER: 'local', MAX_EVENT_LOOP_DELAY_MS: '0' },
      loggerInstance: logger,
    });
    return { ...setup, reportId: await prepareReport(setup.app, setup.admin) };
  } catch (error) {
    await unmount(); // a setup that fails at the top level runs no afterAll
    throw error;
  }
})();
const filler = join(mountPoint, 'filler');

async function files(): Promise<string[]> {
  const entries = await readdir(mountPoint, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(mountPoint, join(entry.parentPath, entry.name)));
}
const leftovers = async () =>
  (await files()).filter((path) => path.startsWith('blobs/.staging/') || path.endsWith('.tmp'));

/** Fills the filesystem to its last byte. */
async function fillDisk(): Promise<void> {
  for (const size of [64 * 1024, 4096, 512, 1]) {
    for (let i = 0; i < 10_000; i += 1) {
      try {
        await appendFile(filler, randomBytes(size));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        break;
      }
    }
  }
}

async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a full photo disk', () => {
  it('POST /v1/reports/{id}/photos › 507 STORAGE_FULL with Retry-After, nothing staged, one storage.full alert', async () => {
    const big = Buffer.concat([await jpeg(1), randomBytes(1536 * 1024)]); // more than the whole disk
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await uploadPhoto(app, admin, reportId, big);
      expect(response.statusCode, response.body).toBe(507);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.headers['retry-after']).toMatch(/^\d+$/);
      expect(response.json()).toMatchObject({ code: 'STORAGE_FULL', status: 507 });
      expect(response.json().detail).not.toMatch(/ENOSPC|\/tmp/);
    }
    expect(await leftovers()).toEqual([]);
    // One alert for the episode, at level error, not one per request.
    const alerts = lines.filter((line) => line.event === 'storage.full');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.level).toBeGreaterThanOrEqual(50);
  });

  it('GET /v1/photos/{id}/thumbnail › 503 STORAGE_UNAVAILABLE (not 422) when the thumbnail cannot be written, no .tmp left', async () => {
    const response = await uploadPhoto(app, admin, reportId, await jpeg(2));
    expect(response.statusCode, response.body).toBe(201);
    const photo = response.json() as { id: string };
    // The thumbnail made after the answer: wait for it, then take it away and fill the disk.
    const thumbnail = await poll(
      async () => (await files()).find((path) => path.startsWith('blobs/thumbnails/') && path.endsWith('.webp')),
      10_000,
      'the thumbnail',
    );
    await rm(join(mountPoint, thumbnail));
    await fillDisk();

    const refused = await as(app, admin)(`/v1/photos/${photo.id}/thumbnail`);
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.json()).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(await leftovers()).toEqual([]);

    await rm(filler);
    const served = await as(app, admin)(`/v1/photos/${photo.id}/thumbnail`);
    expect(served.statusCode, served.body).toBe(200);
    expect(served.headers['content-type']).toBe('image/webp');
    expect(await leftovers()).toEqual([]);
  });
});
