// Makes the database available to routes' services as `app.db`, and closes it with the app; and the one
// LISTEN connection of the process (`app.listener`) through which caches learn of other processes' writes.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from './client.js';
import { createListener, type Listener } from './listener.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
    listener: Listener;
  }
}

export const databasePlugin = fp(
  async (app: FastifyInstance, options: { database: Database; closeWithApp: boolean }) => {
    app.decorate('db', options.database);
    const listener = createListener({ url: options.database.url, log: app.log });
    app.decorate('listener', listener);
    // Connected in the background once every cache has subscribed: until it listens the caches are simply
    // off, and a slow or unreachable database never holds up start-up.
    app.addHook('onReady', async () => {
      void listener.start();
    });
    app.addHook('onClose', async () => {
      await listener.close();
      if (options.closeWithApp) await options.database.close();
    });
  },
  { name: 'database', fastify: '5.x' },
);
