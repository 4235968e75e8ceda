// Makes the blob store available as `app.storage`, sweeps staged leftovers (uploads cut off by a crash)
// at start and every minute, and closes the store with the app.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { BlobStore } from './storage.js';

declare module 'fastify' {
  interface FastifyInstance {
    storage: BlobStore;
  }
}

export const storagePlugin = fp(
  async (app: FastifyInstance, options: { store: BlobStore; stagingMaxAgeMs: number }) => {
    app.decorate('storage', options.store);
    const sweep = async () => {
      try {
        const removed = await options.store.sweep(options.stagingMaxAgeMs);
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
