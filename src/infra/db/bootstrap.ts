// Where the database comes from: DATABASE_URL when set, else the embedded PostgreSQL under DATA_DIR.
// Shared by the server and the CLIs, which then migrate (unless told not to) and open the client.
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { createDatabase, type Database, databaseOptions } from './client.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrator.js';

export interface OpenedDatabase {
  url: string;
  database: Database;
  embedded?: EmbeddedPostgres;
  /** Closes the client and stops the embedded server if this process started it. */
  close(): Promise<void>;
}

export async function openDatabase(
  config: Config,
  log: Logger,
  options: { migrate?: boolean; applicationName?: string } = {},
): Promise<OpenedDatabase> {
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.DATA_DIR, port: config.EMBEDDED_POSTGRES_PORT, log });
  const url = config.DATABASE_URL ?? embedded!.url;
  try {
    if (options.migrate ?? config.MIGRATE_ON_START) {
      const result = await migrate(url, {
        onWarning: (message) => log.warn(message),
        onApplied: (name) => log.info({ event: 'db.migration.applied', migration: name }, 'migration applied'),
      });
      log.info({ applied: result.applied.length, alreadyApplied: result.alreadyApplied.length }, 'database migrated');
    }
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const database = createDatabase(databaseOptions(config, url, options.applicationName), log);
  return {
    url,
    database,
    embedded,
    async close() {
      await database.close();
      await embedded?.stop();
    },
  };
}
