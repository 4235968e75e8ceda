// Builds the real Testigo app on its own test database; closes both after the file's tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { createActor, type TestActor } from './actors.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  config: Config;
  /** An admin with a token (created unless the database is unmigrated or unreachable). */
  admin: TestActor;
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: '/nonexistent-testigo-data', ...env });
}

export async function setupTestApp(options: { env?: Record<string, string>; migrated?: boolean; databaseUrl?: string } = {}): Promise<TestApp> {
  const db = await createTestDatabase({ migrated: options.migrated });
  const dataDir = await mkdtemp(join(tmpdir(), 'testigo-test-data-'));
  const config = testConfig({ DATABASE_URL: options.databaseUrl ?? db.url, DATA_DIR: dataDir, ...options.env });
  const database = createDatabase(databaseOptions(config, config.DATABASE_URL!));
  const app = await buildApp({ config, database });
  afterAll(async () => {
    await app.close();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const usable = options.migrated !== false && !options.databaseUrl;
  const admin = usable ? await createActor(app, 'admin', { name: 'Test admin' }) : (undefined as unknown as TestActor);
  return { app, db, config, admin };
}
