// Runs Testigo: reads the configuration, opens (or starts) the database, migrates, listens, and on
// SIGTERM/SIGINT finishes in-flight requests before closing the database and the embedded server.
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { type LogKeys, loadLogKeys } from './features/log/log.keys.js';
import { usersRepository } from './features/users/users.repository.js';
import { systemContext } from './infra/auth/actor.js';
import { type OpenedDatabase, openDatabase } from './infra/db/bootstrap.js';
import { createLogger } from './infra/logger.js';

async function main(): Promise<void> {
  let config;
  let logKeys: LogKeys;
  try {
    config = loadConfig();
    logKeys = await loadLogKeys(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const log = await createLogger(config.LOG_LEVEL, config.NODE_ENV);
  log.info(
    { event: 'log.key', source: logKeys.source, path: logKeys.path, origin: logKeys.origin, key: logKeys.verifierKey },
    logKeys.source === 'generated'
      ? `generated the log signing key at ${logKeys.path} (keep it with the data; never in the database)`
      : logKeys.source === 'file'
        ? `log signing key from ${logKeys.path}`
        : 'log signing key from LOG_SIGNING_KEY',
  );
  const started = performance.now();
  // Installed first, so that a signal during start-up still stops what has been started so far.
  let app: FastifyInstance | undefined;
  let opened: OpenedDatabase | undefined;
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down');
    await app?.close();
    await opened?.close();
  });

  opened = await openDatabase(config, log, { applicationName: 'testigo-api' });
  app = await buildApp({ config, database: opened.database, loggerInstance: log, logKeys });
  if (config.ADMIN_TOKEN) {
    const outcome = await app.services.users.bootstrapAdmin(systemContext('startup'), config.ADMIN_TOKEN);
    log.info(
      { event: 'admin.bootstrap', outcome },
      outcome === 'created' ? 'created the first admin with ADMIN_TOKEN' : 'an admin exists; ADMIN_TOKEN not used',
    );
  }

  const url = await app.listen({ port: config.PORT, host: config.HOST });
  const docs = config.DOCS_ENABLED ? `${url}/docs` : undefined;
  log.info(
    { event: 'server.ready', url, docs, ms: Math.round(performance.now() - started), embedded: !!opened.embedded },
    `Testigo is ready at ${url}${docs ? ` (docs: ${docs})` : ''}`,
  );
  if ((await usersRepository.countActiveAdmins(opened.database.prisma)) === 0) {
    log.warn(
      { event: 'admin.missing' },
      'No admin exists yet. Create one with `npm run cli -- token:create --role admin --name NAME` (it prints ' +
        'the token), or start the server once with ADMIN_TOKEN set to a secret of 32+ characters.',
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Testigo failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
