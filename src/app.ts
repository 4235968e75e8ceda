// Builds the Testigo Fastify app (used by the server and by the tests); it neither listens nor migrates.

import type { Socket } from 'node:net';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { type Config, trustProxyOption } from './config.js';
import { analysisRoutes } from './features/analysis/analysis.routes.js';
import { auditRoutes } from './features/audit/audit.routes.js';
import { dashboardRoutes } from './features/dashboard/dashboard.routes.js';
import { electionRoutes } from './features/election/election.routes.js';
import { formsRoutes } from './features/forms/forms.routes.js';
import { geoRoutes } from './features/geo/geo.routes.js';
import { type LogKeys, loadLogKeys } from './features/log/log.keys.js';
import { logRoutes } from './features/log/log.routes.js';
import { photosRoutes } from './features/photos/photos.routes.js';
import { photoSchema } from './features/photos/photos.schemas.js';
import { registryRoutes } from './features/registry/registry.routes.js';
import { reportsRoutes } from './features/reports/reports.routes.js';
import { summariesRoutes } from './features/summaries/summaries.routes.js';
import { createUsersRepository } from './features/users/users.repository.js';
import { usersRoutes } from './features/users/users.routes.js';
import { type AfterTokenRead, authPlugin } from './infra/auth/auth.plugin.js';
import type { Database } from './infra/db/client.js';
import { databasePlugin } from './infra/db/plugin.js';
import { AppError } from './infra/errors.js';
import { healthRoutes } from './infra/health.js';
import { jsonBodyPlugin } from './infra/http/json-body.js';
import { problemsPlugin, sendProblem } from './infra/http/problems.js';
import { rateLimitOptions } from './infra/http/rate-limit.js';
import { safeValidatorCompiler } from './infra/http/validation.js';
import { loggerOptions, requestIdFor } from './infra/logger.js';
import { openapiPlugin } from './infra/openapi.js';
import { createStore } from './infra/storage/index.js';
import { storagePlugin } from './infra/storage/plugin.js';
import type { BlobStore } from './infra/storage/storage.js';
import { servicesPlugin } from './services.js';
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
  /** Tests only: a pause between a token lookup's read and its caching. */
  afterTokenRead?: AfterTokenRead;
  /** The log's keys (the server loads them before; by default loaded, or generated, from the configuration). */
  logKeys?: LogKeys;
}

/** How long a connection closed after an early refusal still swallows what its client sends (see below). */
const LINGER_MS = 2000;
/** Answers that refuse a request before its body is taken. */
const EARLY_REFUSALS = new Set([401, 403, 404, 413, 415]);

export async function buildApp({
  config,
  database,
  store,
  closeDatabase = true,
  logger,
  loggerInstance,
  afterTokenRead,
  logKeys,
}: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: logger ?? loggerOptions(config.LOG_LEVEL) }),
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    trustProxy: trustProxyOption(config.TRUST_PROXY),
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // No byte in or out for IDLE_TIMEOUT_MS: the socket is destroyed (a stalled upload, a silent client,
    // a reader that stopped reading). Receiving a whole request (headers and body) takes at most
    // REQUEST_TIMEOUT_MS (408 after), its headers at most the idle timeout. Node checks those two every
    // connectionsCheckingInterval; the idle timeout is exact.
    connectionTimeout: config.IDLE_TIMEOUT_MS,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: {
      headersTimeout: Math.min(config.IDLE_TIMEOUT_MS, config.REQUEST_TIMEOUT_MS),
      connectionsCheckingInterval: Math.max(
        100,
        Math.min(30_000, Math.floor(Math.min(config.IDLE_TIMEOUT_MS, config.REQUEST_TIMEOUT_MS) / 2)),
      ),
    },
    routerOptions: { ignoreTrailingSlash: true },
  });
  // Every route's zod schema, behind one rule for all text (no NUL, no lone surrogates).
  app.setValidatorCompiler(safeValidatorCompiler);
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
      return sendProblem(
        request,
        reply,
        new AppError('SHUTTING_DOWN', 'The server is shutting down', { headers: { 'retry-after': '1' } }),
      );
    }
  });

  // An answer sent before the request's body was read to its end (a 401/403/404 before an upload is taken,
  // a 413 halfway through a photo, a 415) closes the connection: the unread rest never reaches the next
  // request on a pooled socket, the client is not left sending megabytes nobody reads, and SIGTERM does not
  // wait for it. Node would close the socket at once after the answer, and a reset sent while the client is
  // still sending can destroy the answer in its buffers before it is read; so the close lingers: the answer
  // and a FIN go out, what still arrives is discarded, and the socket is destroyed when the client closes
  // its side or after LINGER_MS. A refusal (401, 403, 404, 413, 415) of a request that carries a body closes
  // the connection even when Node already holds all of it (a small upload over a fast link): the route never
  // took it. (`complete` is undefined under app.inject, which has no socket.)
  app.addHook('onSend', async (request, reply, payload) => {
    const raw = request.raw;
    const hasBody = Number(raw.headers['content-length'] ?? 0) > 0 || raw.headers['transfer-encoding'] !== undefined;
    const refused = raw.complete === true && hasBody && EARLY_REFUSALS.has(reply.statusCode);
    if ((raw.complete === false || refused) && !reply.raw.headersSent) {
      reply.header('connection', 'close');
      const socket: Socket & { destroySoon?: () => void } = request.raw.socket;
      socket.destroySoon = () => {
        if (socket.destroyed) return;
        const timer = setTimeout(() => socket.destroy(), LINGER_MS);
        timer.unref();
        socket.once('close', () => clearTimeout(timer));
        socket.once('end', () => socket.destroy());
        request.raw.resume();
        socket.end();
      };
    }
    return payload;
  });

  await app.register(problemsPlugin);
  await app.register(jsonBodyPlugin);
  await app.register(databasePlugin, { database, closeWithApp: closeDatabase });
  await app.register(storagePlugin, {
    store: store ?? (await createStore(config)),
    stagingMaxAgeMs: config.PHOTO_STAGING_MAX_AGE_MS,
  });
  if (config.MAX_EVENT_LOOP_DELAY_MS > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: config.MAX_EVENT_LOOP_DELAY_MS,
      retryAfter: 5,
      pressureHandler: (request, reply) => {
        sendProblem(
          request,
          reply,
          new AppError('SERVICE_OVERLOADED', 'The server is overloaded; retry shortly', {
            headers: { 'retry-after': '5' },
          }),
        );
      },
    });
  }
  await app.register(rateLimit, rateLimitOptions(config));
  await app.register(authPlugin, {
    tokens: createUsersRepository(database.prisma),
    lastUsedFlushMs: config.TOKEN_LAST_USED_FLUSH_MS,
    cacheTtlMs: config.AUTH_CACHE_TTL_MS,
    probesPerIp: config.RATE_LIMIT_PER_IP,
    probeWindowMs: config.RATE_LIMIT_WINDOW_MS,
    afterTokenRead,
  });
  // Uploads stream; each import route passes its own size limit to request.parts().
  await app.register(multipart, { limits: { files: 1, fields: 5, fieldSize: 1024, parts: 6, headerPairs: 100 } });
  // Every service, built once for this app (src/services.ts).
  await app.register(servicesPlugin, { config, logKeys: logKeys ?? (await loadLogKeys(config)) });
  // Every process integrates the log's queue (one at a time, by an advisory lock); it stops before the pool closes.
  app.addHook('onReady', async () => app.services.log.startIntegrator());
  app.addHook('preClose', async () => app.services.log.stopIntegrator());
  await app.register(openapiPlugin, { version, ui: config.DOCS_ENABLED });
  await app.register(healthRoutes);
  await app.register(registryRoutes, { importMaxBytes: config.REGISTRY_IMPORT_MAX_BYTES });
  await app.register(usersRoutes, { importMaxBytes: config.USER_IMPORT_MAX_BYTES });
  await app.register(auditRoutes);
  await app.register(electionRoutes, { publicElection: config.PUBLIC_SUMMARIES });
  await app.register(formsRoutes, { publicForms: config.PUBLIC_SUMMARIES });
  await app.register(reportsRoutes, {
    batchMaxBytes: config.REPORT_BATCH_MAX_BYTES,
    exportMaxConcurrent: config.EXPORT_MAX_CONCURRENT,
    photoSchema,
  });
  await app.register(photosRoutes, { maxBytes: config.PHOTO_MAX_BYTES });
  await app.register(summariesRoutes, { publicSummaries: config.PUBLIC_SUMMARIES });
  await app.register(geoRoutes, { publicSummaries: config.PUBLIC_SUMMARIES });
  await app.register(logRoutes, { publicLog: config.PUBLIC_LOG });
  await app.register(dashboardRoutes, { publicSummaries: config.PUBLIC_SUMMARIES });
  await app.register(analysisRoutes, { publicSummaries: config.PUBLIC_SUMMARIES });
  return app;
}
