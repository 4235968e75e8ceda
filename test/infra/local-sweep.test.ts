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
