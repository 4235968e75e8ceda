// Makes the blob store available as `app.storage`, sweeps staged leftovers (uploads cut off by a crash)
// at start and every minute, and closes the store with the app. Watches the store's health: every call's
// outcome (and readiness probes) feed one state, and the log carries one alert per outage
// (`storage.unavailable` / `storage.full`, level error) and one `storage.recovered` when it is over.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type BlobStore, type StagedObject, StorageError, storageFailure } from './storage.js';

export type StorageState = 'ok' | 'unreachable' | 'full';

declare module 'fastify' {
  interface FastifyInstance {
    storage: BlobStore;
    /** The store's state for readiness: probes it (bounded by `timeoutMs`) and answers what it found. */
    storageState(timeoutMs: number): Promise<StorageState>;
  }
}

/** Tracks outages from outcomes; logs only the transitions. */
function healthTracker(log: FastifyBaseLogger, driver: string) {
  let unavailable = false;
  let full = false;
  return {
    get state(): StorageState {
      return unavailable ? 'unreachable' : full ? 'full' : 'ok';
    },
    failed(error: unknown) {
      if (!(error instanceof StorageError)) return;
      if (error.failure === 'unavailable' && !unavailable) {
        unavailable = true;
        log.error(
          { event: 'storage.unavailable', driver, err: error.cause ?? error },
          'ALERT: the photo store cannot be reached; uploads answer 503 STORAGE_UNAVAILABLE',
        );
      } else if (error.failure === 'full' && !full) {
        full = true;
        log.error(
          { event: 'storage.full', driver, err: error.cause ?? error },
          'ALERT: the photo store is full; uploads answer 507 STORAGE_FULL',
        );
      }
    },
    /** A call succeeded: the store is reachable; a write that succeeded also ends a full episode. */
    succeeded(wrote: boolean) {
      if (unavailable) {
        unavailable = false;
        log.warn({ event: 'storage.recovered', driver, was: 'unavailable' }, 'the photo store answers again');
      }
      if (wrote && full) {
        full = false;
        log.warn({ event: 'storage.recovered', driver, was: 'full' }, 'the photo store has room again');
      }
    },
  };
}

/** The store with every call's outcome reported to `tracker`. */
function watched(store: BlobStore, tracker: ReturnType<typeof healthTracker>): BlobStore {
  const watch = async <T>(wrote: boolean, call: () => Promise<T>): Promise<T> => {
    try {
      const result = await call();
      tracker.succeeded(wrote);
      return result;
    } catch (error) {
      tracker.failed(error);
      throw error;
    }
  };
  return {
    driver: store.driver,
    stage: (input, maxBytes) =>
      watch(true, () => store.stage(input, maxBytes)).then(
        (staged): StagedObject => ({
          ...staged,
          commit: (key, contentType) => watch(true, () => staged.commit(key, contentType)),
          discard: () => watch(false, () => staged.discard()),
        }),
      ),
    stat: (key) => watch(false, () => store.stat(key)),
    read: (key, range) => watch(false, () => store.read(key, range)),
    put: (key, body, contentType) => watch(true, () => store.put(key, body, contentType)),
    sweep: (olderThanMs) => watch(false, () => store.sweep(olderThanMs)),
    probe: (signal) => watch(false, () => store.probe(signal)),
    close: () => store.close(),
  };
}

export const storagePlugin = fp(
  async (app: FastifyInstance, options: { store: BlobStore; stagingMaxAgeMs: number }) => {
    const tracker = healthTracker(app.log, options.store.driver);
    const store = watched(options.store, tracker);
    app.decorate('storage', store);
    app.decorate('storageState', async (timeoutMs: number): Promise<StorageState> => {
      const signal = AbortSignal.timeout(timeoutMs);
      let timer: NodeJS.Timeout | undefined;
      // A probe that outlives its bound counts as unreachable (and is left to settle on its own).
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(storageFailure(new Error(`the store did not answer within ${timeoutMs} ms`))),
          timeoutMs,
        );
      });
      try {
        await Promise.race([store.probe(signal), late]);
      } catch (error) {
        tracker.failed(error instanceof StorageError ? error : storageFailure(error));
      } finally {
        clearTimeout(timer);
      }
      return tracker.state;
    });
    const sweep = async () => {
      try {
        const removed = await store.sweep(options.stagingMaxAgeMs);
        if (removed > 0) app.log.info({ event: 'storage.swept', removed }, 'removed staged leftovers');
      } catch (error) {
        app.log.warn({ err: error }, 'could not sweep the staging area');
      }
    };
    const timer = setInterval(() => void sweep(), 60_000);
    timer.unref();
    app.addHook('onReady', async () => {
      void sweep();
    });
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await options.store.close();
    });
  },
  { name: 'storage', fastify: '5.x' },
);
