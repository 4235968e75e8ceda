// Makes the database available to routes' services as `app.db`, and closes it with the app.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from './client.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
  }
}

export const databasePlugin = fp(
  async (app: FastifyInstance, options: { database: Database; closeWithApp: boolean }) => {
    app.decorate('db', options.database);
    if (options.closeWithApp) app.addHook('onClose', async () => options.database.close());
  },
  { name: 'database', fastify: '5.x' },
);
