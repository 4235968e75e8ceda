// The composition root: every service of Testigo, built once per app (or once per CLI command), each given
// exactly what it needs. `servicesPlugin` decorates the app with them (`app.services`); routes only call them.
// Who may call whom: routes → their feature's service; photos → reports (reportForPhotos); reports get a
// report's photos through `photosOf`, passed here; reports, photos and summaries read the one election service;
// reports validate against the one forms service; the process analysis reads with the summaries' scope rules
// (rootFor, requireNational).
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from './config.js';
import { createAnalysisService } from './features/analysis/analysis.service.js';
import { createAuditReader } from './features/audit/audit.repository.js';
import { createAuditService } from './features/audit/audit.service.js';
import { createElectionRepository } from './features/election/election.repository.js';
import { createElectionService } from './features/election/election.service.js';
import { createFormsRepository } from './features/forms/forms.repository.js';
import { createFormsService } from './features/forms/forms.service.js';
import { loadBoundaries } from './features/geo/geo.boundaries.js';
import { createGeoService } from './features/geo/geo.service.js';
import type { LogKeys } from './features/log/log.keys.js';
import { createLogRepository } from './features/log/log.repository.js';
import { createLogService } from './features/log/log.service.js';
import { createPhotosRepository } from './features/photos/photos.repository.js';
import { createPhotosService } from './features/photos/photos.service.js';
import { createRegistryService } from './features/registry/registry.service.js';
import { contentHash } from './features/reports/canonical.js';
import { createReportsRepository } from './features/reports/reports.repository.js';
import { createReportsService, type ReportsServiceDeps } from './features/reports/reports.service.js';
import { createSummariesService } from './features/summaries/summaries.service.js';
import { createSummaryStreams } from './features/summaries/summaries.stream.js';
import { createTalliesReads } from './features/summaries/tallies.js';
import { createUsersImporter } from './features/users/users.import.js';
import { createUsersService } from './features/users/users.service.js';
import type { Database } from './infra/db/client.js';
import type { Listener } from './infra/db/listener.js';
import { preparedQuery } from './infra/db/prepared.js';
import { concurrencyCap } from './infra/http/concurrency.js';
import type { BlobStore } from './infra/storage/storage.js';

type Limits = Pick<
  Config,
  | 'REPORT_MAX_CLOCK_SKEW_MS'
  | 'REPORT_WRITES_IN_FLIGHT'
  | 'PHOTO_MAX_PIXELS'
  | 'PHOTO_MAX_DISTANCE_M'
  | 'RECOUNT_MAX_CONCURRENT'
  | 'DATABASE_READ_QUEUE_MAX'
  | 'STREAM_MAX_PER_TOKEN'
  | 'STREAM_MAX_PER_IP'
  | 'STREAM_HEARTBEAT_MS'
  | 'STREAM_POLL_MS'
  | 'STREAM_MIN_INTERVAL_MS'
  | 'REGIONS_GEOJSON'
  | 'LOG_MERGE_DELAY_MS'
>;

export interface ServiceDeps {
  database: Pick<Database, 'prisma' | 'pool' | 'readPool'>;
  store: BlobStore;
  config: Limits;
  /** The log's signing key, origin and actor key (features/log/log.keys.ts). */
  logKeys: LogKeys;
  /** The process's LISTEN connection; without it (the CLI) caches are off. */
  listener?: Pick<Listener, 'listening' | 'subscribe'>;
  /** Drops this process's cached token lookups of these users (the auth plugin's forgetAccess). */
  accessChanged?: (userIds: string[]) => void;
  log?: { warn(obj: object, msg: string): void };
}

export function buildServices(deps: ServiceDeps) {
  const { database, store, config } = deps;
  const { prisma } = database;
  const access = deps.accessChanged ? { accessChanged: deps.accessChanged } : {};
  const election = createElectionService({
    repo: createElectionRepository(prisma),
    ...(deps.listener ? { listener: deps.listener } : {}),
  });
  const forms = createFormsService({
    repo: createFormsRepository(prisma),
    ...(deps.listener ? { listener: deps.listener } : {}),
  });
  // The log is below reports and photos: they hand out its receipts; it knows their rows only through SQL.
  const log = createLogService({
    repo: createLogRepository(prisma, database.pool),
    keys: deps.logKeys,
    mergeDelayMs: config.LOG_MERGE_DELAY_MS,
    contentHash,
    log: deps.log,
  });
  // Reports need a report's photos for its detail; photos are built after them, on top of them.
  let photosOf: ReportsServiceDeps['photosOf'] = async () => [];
  const reports = createReportsService({
    // Exports read on the read pool, so that observers' writes keep their connections.
    repo: createReportsRepository(prisma, { pool: database.pool, reads: preparedQuery(database.readPool) }),
    election,
    forms,
    photosOf: (actor, reportId) => photosOf(actor, reportId),
    receipts: log,
    maxClockSkewMs: config.REPORT_MAX_CLOCK_SKEW_MS,
    writesInFlight: config.REPORT_WRITES_IN_FLIGHT,
  });
  const photos = createPhotosService({
    repo: createPhotosRepository(prisma),
    store,
    reports,
    election,
    receipts: log,
    maxPixels: config.PHOTO_MAX_PIXELS,
    maxDistanceMetres: config.PHOTO_MAX_DISTANCE_M,
    log: deps.log,
  });
  photosOf = photos.ofReport;
  // The one versioned answer cache of the process (summaries; any answer exact at the tallies' version).
  const tallies = createTalliesReads(database.readPool, { maxWaiting: config.DATABASE_READ_QUEUE_MAX });
  const summaries = createSummariesService(database, () => election.current(), {
    recounts: concurrencyCap('recounts (summaries with since/until)', config.RECOUNT_MAX_CONCURRENT),
    maxWaiting: config.DATABASE_READ_QUEUE_MAX,
    reads: tallies,
  });
  return {
    audit: createAuditService({ repo: createAuditReader(prisma) }),
    election,
    forms,
    registry: createRegistryService(prisma),
    users: createUsersService(prisma, access),
    importUsers: createUsersImporter(prisma, access),
    reports,
    photos,
    tallies,
    summaries,
    summaryStreams: createSummaryStreams({
      clock: tallies.cache.clock,
      eventAt: (actor, version) => summaries.streamAt(actor, version),
      options: {
        maxPerToken: config.STREAM_MAX_PER_TOKEN,
        maxPerIp: config.STREAM_MAX_PER_IP,
        heartbeatMs: config.STREAM_HEARTBEAT_MS,
        pollMs: config.STREAM_POLL_MS,
        minIntervalMs: config.STREAM_MIN_INTERVAL_MS,
      },
      ...(deps.log ? { log: deps.log } : {}),
    }),
    // Maps: the summaries' rows with the boundaries of REGIONS_GEOJSON (checked by the configuration already).
    geo: createGeoService({
      summaries,
      boundaries: loadBoundaries(config.REGIONS_GEOJSON),
      run: preparedQuery(database.readPool),
    }),
    log,
    analysis: createAnalysisService({
      database,
      summaries,
      reads: tallies,
      maxWaiting: config.DATABASE_READ_QUEUE_MAX,
    }),
  };
}

export type Services = ReturnType<typeof buildServices>;

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export const servicesPlugin = fp(
  async (app: FastifyInstance, options: { config: Limits; logKeys: LogKeys }) => {
    app.decorate(
      'services',
      buildServices({
        database: app.db,
        store: app.storage,
        config: options.config,
        logKeys: options.logKeys,
        listener: app.listener,
        accessChanged: (userIds) => app.forgetAccess(userIds),
        log: app.log,
      }),
    );
  },
  { name: 'services', fastify: '5.x', dependencies: ['database', 'storage', 'auth'] },
);
