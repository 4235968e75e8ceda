// Builds the Testigo Fastify app (used by the server and by the tests); it neither listens nor migrates.
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import { registryRoutes } from './features/registry/registry.routes.js';
import type { Database } from './infra/db/client.js';
import { databasePlugin } from './infra/db/plugin.js';
import { AppError } from './infra/errors.js';
import { healthRoutes } from './infra/health.js';
import { authPlugin } from './infra/auth/auth.plugin.js';
import { rateLimitOptions } from './infra/http/rate-limit.js';
import { usersRoutes } from './features/users/users.routes.js';
import { auditRoutes } from './features/audit/audit.routes.js';
import { electionRoutes } from './features/election/election.routes.js';
import { reportsRoutes } from './features/reports/reports.routes.js';
import { photosRoutes } from './features/photos/photos.routes.js';
import { summariesRoutes } from './features/summaries/summaries.routes.js';
import { createStore } from './infra/storage/index.js';
import { storagePlugin } from './infra/storage/plugin.js';
import type { BlobStore } from './infra/storage/storage.js';
import { problemsPlugin, sendProblem } from './infra/http/problems.js';
import { loggerOptions, requestIdFor } from './infra/logger.js';
import { openapiPlugin } from './infra/openapi.js';
import { version } from './version.js';

export interface AppOptions {
  config: Config;
  database: Database;
  /** Where photos live; by default the store the configuration names. */
  store?: BlobStore;
  /** Close the database when the app closes (the server does; tests share one). */
  closeDatabase?: boolean;
  logger?: FastifyServerOptions['logger'];
  /** An existing pino logger (the server's), used instead of `logger`. */
  loggerInstance?: FastifyBaseLogger;
}

export async function buildApp({ config, database, store, closeDatabase = true, logger, loggerInstance }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: logger ?? loggerOptions(config.LOG_LEVEL) }),
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    trustProxy: config.TRUST_PROXY,
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // Requests that arrive while the server drains get a problem, not a half-served answer.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) {
      reply.header('connection', 'close');
      return sendProblem(request, reply, new AppError('SHUTTING_DOWN', 'The server is shutting down', { headers: { 'retry-after': '1' } }));
    }
  });

  await app.register(problemsPlugin);
  await app.register(databasePlugin, { database, closeWithApp: closeDatabase });
  await app.register(storagePlugin, { store: store ?? (await createStore(config)), stagingMaxAgeMs: config.PHOTO_STAGING_MAX_AGE_MS });
  if (config.MAX_EVENT_LOOP_DELAY_MS > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: config.MAX_EVENT_LOOP_DELAY_MS,
      retryAfter: 5,
      pressureHandler: (request, reply) => {
        sendProblem(request, reply, new AppError('SERVICE_OVERLOADED', 'The server is overloaded; retry shortly', { headers: { 'retry-after': '5' } }));
      },
    });
  }
  await app.register(rateLimit, rateLimitOptions(config));
  await app.register(authPlugin, { lastUsedFlushMs: config.TOKEN_LAST_USED_FLUSH_MS, cacheTtlMs: config.AUTH_CACHE_TTL_MS, databaseUrl: database.url });
  // Uploads stream; each import route passes its own size limit to request.parts().
  await app.register(multipart, { limits: { files: 1, fields: 5, fieldSize: 1024, parts: 6, headerPairs: 100 } });
  await app.register(openapiPlugin, { version, ui: config.DOCS_ENABLED });
  await app.register(healthRoutes);
  await app.register(registryRoutes, { importMaxBytes: config.REGISTRY_IMPORT_MAX_BYTES });
  await app.register(usersRoutes, { importMaxBytes: config.USER_IMPORT_MAX_BYTES });
  await app.register(auditRoutes);
  await app.register(electionRoutes);
  await app.register(reportsRoutes, { maxClockSkewMs: config.REPORT_MAX_CLOCK_SKEW_MS, batchMaxBytes: config.REPORT_BATCH_MAX_BYTES, exportMaxConcurrent: config.EXPORT_MAX_CONCURRENT });
  await app.register(photosRoutes, { maxBytes: config.PHOTO_MAX_BYTES, maxPixels: config.PHOTO_MAX_PIXELS, maxDistanceMetres: config.PHOTO_MAX_DISTANCE_M });
  await app.register(summariesRoutes, { publicSummaries: config.PUBLIC_SUMMARIES, recountMaxConcurrent: config.RECOUNT_MAX_CONCURRENT, readQueueMax: config.DATABASE_READ_QUEUE_MAX });
  return app;
}
