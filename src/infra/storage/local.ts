// The local filesystem store: DATA_DIR/blobs/<key>, staged in DATA_DIR/blobs/.staging, fsynced and renamed
// into place (atomic on one filesystem) before an upload is acknowledged.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Meter, type BlobStore, type StagedObject } from './storage.js';

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function createLocalStore(dataDir: string): BlobStore {
  const root = resolve(dataDir, 'blobs');
  const staging = join(root, '.staging');
  const pathOf = (key: string) => {
    const path = resolve(root, key);
    if (!path.startsWith(`${root}/`) || key.includes('..')) throw new Error(`invalid storage key ${key}`);
    return path;
  };

  return {
    driver: 'local',

    async stage(input: Readable, maxBytes: number): Promise<StagedObject> {
      await mkdir(staging, { recursive: true });
      const temp = join(staging, `${Date.now()}-${randomUUID()}`);
      const meter = new Meter(maxBytes);
      try {
        await pipeline(input, meter, createWriteStream(temp, { flags: 'wx' }));
        await fsyncPath(temp);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      let settled = false;
      return {
        ...meter.result(),
        async commit(key) {
          const target = pathOf(key);
          await mkdir(dirname(target), { recursive: true });
          const existing = await stat(target).catch(() => undefined);
          if (existing) await rm(temp, { force: true });
          else {
            await rename(temp, target);
            await fsyncPath(dirname(target));
          }
          settled = true;
        },
        async discard() {
          if (!settled) await rm(temp, { force: true });
          settled = true;
        },
      };
    },

    async stat(key) {
      const info = await stat(pathOf(key)).catch(() => undefined);
      return info?.isFile() ? { size: info.size } : undefined;
    },

    async read(key, range) {
      return createReadStream(pathOf(key), range ? { start: range.start, end: range.end } : {});
    },

    async put(key, body) {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      // Written beside its target and renamed over it: readers see the old file or the whole new one.
      const temp = `${target}.${randomUUID()}.tmp`;
      await writeFile(temp, body);
      await fsyncPath(temp);
      await rename(temp, target);
    },

    async sweep(olderThanMs) {
      // Age is the time of the last write, not of the start: an upload still arriving keeps its file fresh.
      const names = await readdir(staging).catch(() => [] as string[]);
      let removed = 0;
      for (const name of names) {
        const info = await stat(join(staging, name)).catch(() => undefined);
        if (info && Date.now() - info.mtimeMs > olderThanMs) {
          await rm(join(staging, name), { force: true });
          removed += 1;
        }
      }
      return removed;
    },

    async close() {},
  };
}
