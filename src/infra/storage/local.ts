// The local filesystem store: DATA_DIR/blobs/<key>, staged in DATA_DIR/blobs/.staging, fsynced and renamed
// into place (atomic on one filesystem) before an upload is acknowledged. Failures of the disk (ENOSPC, EIO,
// …) become StorageErrors; failures of the client's stream pass unchanged.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BlobStore, Meter, type StagedObject, stagedUploadLost, storageFailure } from './storage.js';

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

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
      await mkdir(staging, { recursive: true }).catch((error: unknown) => {
        throw storageFailure(error);
      });
      const temp = join(staging, `${Date.now()}-${randomUUID()}`);
      const meter = new Meter(maxBytes);
      const file = createWriteStream(temp, { flags: 'wx' });
      // The stream that failed first decides whose fault it is: the client's input or the size limit (passed
      // on as they are), or the disk (a StorageError). pipeline() then destroys the others with that error.
      let first: 'client' | 'disk' | undefined;
      const onClient = () => (first ??= 'client');
      const onDisk = () => (first ??= 'disk');
      input.on('error', onClient);
      meter.on('error', onClient);
      file.on('error', onDisk);
      try {
        await pipeline(input, meter, file);
      } catch (error) {
        await rm(temp, { force: true }).catch(() => undefined);
        throw first === 'disk' ? storageFailure(error) : error;
      } finally {
        input.off('error', onClient);
        meter.off('error', onClient);
        file.off('error', onDisk);
      }
      try {
        await fsyncPath(temp);
      } catch (error) {
        await rm(temp, { force: true }).catch(() => undefined);
        throw isMissing(error) ? stagedUploadLost(error) : storageFailure(error);
      }
      let settled = false;
      return {
        ...meter.result(),
        async commit(key) {
          const target = pathOf(key);
          try {
            await mkdir(dirname(target), { recursive: true });
            const existing = await stat(target).catch(() => undefined);
            if (existing) await rm(temp, { force: true });
            else {
              await rename(temp, target);
              await fsyncPath(dirname(target));
            }
          } catch (error) {
            // The staged file gone (swept while its upload stalled) is this upload's loss, not an outage.
            throw isMissing(error) && !(await stat(temp).catch(() => undefined))
              ? stagedUploadLost(error)
              : storageFailure(error);
          }
          settled = true;
        },
        async discard() {
          if (!settled)
            await rm(temp, { force: true }).catch((error: unknown) => {
              throw storageFailure(error);
            });
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
      // Written beside its target and renamed over it: readers see the old file or the whole new one. A
      // write that fails (ENOSPC) removes its .tmp file; one cut off by a crash is swept (see sweep()).
      const temp = `${target}.${randomUUID()}.tmp`;
      try {
        await mkdir(dirname(target), { recursive: true });
        await writeFile(temp, body, { flag: 'wx' });
        await fsyncPath(temp);
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true }).catch(() => undefined);
        throw storageFailure(error);
      }
    },

    async sweep(olderThanMs) {
      // Age is the time of the last write, not of the start: an upload still arriving keeps its file fresh.
      const isOld = async (path: string) => {
        const info = await stat(path).catch(() => undefined);
        return info !== undefined && Date.now() - info.mtimeMs > olderThanMs;
      };
      let removed = 0;
      for (const name of await readdir(staging).catch(() => [] as string[])) {
        if (await isOld(join(staging, name))) {
          await rm(join(staging, name), { force: true });
          removed += 1;
        }
      }
      // A thumbnail write cut off by a crash leaves its temporary file beside it (`<key>.<uuid>.tmp`).
      for (const dir of await readdir(join(root, 'thumbnails')).catch(() => [] as string[])) {
        for (const name of await readdir(join(root, 'thumbnails', dir)).catch(() => [] as string[])) {
          if (name.endsWith('.tmp') && (await isOld(join(root, 'thumbnails', dir, name)))) {
            await rm(join(root, 'thumbnails', dir, name), { force: true });
            removed += 1;
          }
        }
      }
      return removed;
    },

    async probe() {
      // Reachable when the folder answers (a missing folder is made at the first write); EIO, ENOTCONN
      // (a lost network mount), EACCES… are not.
      await stat(root).catch((error: unknown) => {
        if (!isMissing(error)) throw storageFailure(error);
      });
    },

    async close() {},
  };
}
