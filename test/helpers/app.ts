// Builds the real Testigo app on its own test database; closes both after the file's tests.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { afterAll } from 'vitest';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { createActor, type TestActor } from './actors.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { startS3 } from './s3.js';
import { TEST_LOG_SIGNING_KEY } from './server-process.js';

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  config: Config;
  /** An admin with a token (created unless the database is unmigrated or unreachable). */
  admin: TestActor;
  /** What the blob store holds: committed originals and staged leftovers (local disk, or s3rver's folder). */
  objects(): Promise<{ originals: string[]; staged: string[] }>;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)])),
  );
  return nested.flat();
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: '/nonexistent-testigo-data',
    LOG_SIGNING_KEY: TEST_LOG_SIGNING_KEY,
    ...env,
  });
}

export async function setupTestApp(
  options: {
    env?: Record<string, string>;
    migrated?: boolean;
    databaseUrl?: string;
    loggerInstance?: FastifyBaseLogger;
  } = {},
): Promise<TestApp> {
  const db = await createTestDatabase({ migrated: options.migrated });
  const dataDir = await mkdtemp(join(tmpdir(), 'testigo-test-data-'));
  // TEST_STORAGE=s3 runs the same tests with photos in an S3-compatible server (s3rver).
  const s3 = process.env.TEST_STORAGE === 's3' ? await startS3() : undefined;
  const storageEnv: Record<string, string> = s3
    ? {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: s3.bucket,
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      }
    : {};
  const config = testConfig({
    DATABASE_URL: options.databaseUrl ?? db.url,
    DATA_DIR: dataDir,
    ...storageEnv,
    ...options.env,
  });
  const database = createDatabase(databaseOptions(config, config.DATABASE_URL!));
  const app = await buildApp({
    config,
    database,
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : {}),
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
    await s3?.stop();
  });
  const objects = async () => {
    const root = s3 ? join(s3.directory, s3.bucket) : join(dataDir, 'blobs');
    const keys = (await walk(root))
      .map((file) => relative(root, file).replace(/\._S3rver_object$/, ''))
      .filter((key) => !/\._S3rver_/.test(key));
    return {
      originals: keys.filter((key) => key.startsWith('originals/')),
      staged: keys.filter((key) => key.startsWith('.staging/') || key.startsWith('staging/')),
    };
  };
  const usable = options.migrated !== false && !options.databaseUrl;
  const admin = usable ? await createActor(app, 'admin', { name: 'Test admin' }) : (undefined as unknown as TestActor);
  return { app, db, config, admin, objects };
}
