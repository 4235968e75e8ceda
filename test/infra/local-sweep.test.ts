// The local sweeper judges a staged file by its last write: an upload still arriving is never swept.
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createLocalStore } from '../../src/infra/storage/local.js';

const dir = await mkdtemp(join(tmpdir(), 'testigo-sweep-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

it('removes staged files not written for longer than the age, and keeps ones still being written', async () => {
  const staging = join(dir, 'blobs', '.staging');
  await mkdir(staging, { recursive: true });
  const hourAgo = Date.now() - 3_600_000;
  await writeFile(join(staging, `${hourAgo}-in-flight`), 'still arriving'); // started an hour ago, written just now
  await writeFile(join(staging, `${hourAgo}-abandoned`), 'cut off');
  await utimes(join(staging, `${hourAgo}-abandoned`), new Date(hourAgo), new Date(hourAgo));
  expect(await createLocalStore(dir).sweep(60_000)).toBe(1);
  expect(await readdir(staging)).toEqual([`${hourAgo}-in-flight`]);
});

it('removes stale .tmp files of thumbnail writes cut off by a crash, and keeps thumbnails and writes in progress', async () => {
  const root = join(dir, 'blobs');
  const hourAgo = Date.now() - 3_600_000;
  const old = async (path: string) => {
    await writeFile(path, 'partial webp');
    await utimes(path, new Date(hourAgo), new Date(hourAgo));
  };
  await mkdir(join(root, 'thumbnails', 'ab'), { recursive: true });
  await old(join(root, '.staging', `${hourAgo}-0a.tmp`));
  await old(join(root, 'thumbnails', 'ab', `${'ab'.repeat(32)}.webp.0b.tmp`));
  await old(join(root, 'thumbnails', 'ab', `${'ab'.repeat(32)}.webp`)); // a thumbnail, however old, stays
  await writeFile(join(root, 'thumbnails', 'ab', `${'cd'.repeat(32)}.webp.0c.tmp`), 'being written now');
  expect(await createLocalStore(dir).sweep(60_000)).toBe(2);
  expect((await readdir(join(root, 'thumbnails', 'ab'))).sort()).toEqual([
    `${'ab'.repeat(32)}.webp`,
    `${'cd'.repeat(32)}.webp.0c.tmp`,
  ]);
  expect((await readdir(join(root, '.staging'))).filter((name) => name.endsWith('.tmp'))).toEqual([]);
});
