// Testigo's command line: `npm run cli -- <command>` (also behind db:migrate, registry:import and demo).
//   db:migrate              apply pending migrations
//   registry:import FILE    import a registry CSV (.csv or .csv.gz)
//   demo                    import the shipped Venezuela 2024 registry (seed/ve2024)
//   token:create --role ROLE --name NAME [--scope REGION]   create a user and print its first token
//   summaries:rebuild       recompute every summary tally and process analysis from the reports (writers wait meanwhile)
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../config.js';
import { ROLES, systemContext } from '../infra/auth/actor.js';
import { type OpenedDatabase, openDatabase } from '../infra/db/bootstrap.js';
import { AppError } from '../infra/errors.js';
import { loggerOptions } from '../infra/logger.js';
import { createStore } from '../infra/storage/index.js';
import { buildServices } from '../services.js';
import { DEMO_REGISTRY, openFile } from './registry-files.js';

/** The services, built as the API builds them (src/services.ts), without a listener: nothing is cached. */
const servicesOf = async (opened: OpenedDatabase, config: ReturnType<typeof loadConfig>) =>
  buildServices({ database: opened.database, store: await createStore(config), config });

const usage =
  'usage: cli db:migrate | registry:import FILE | demo | token:create --role admin|coordinator|analyst|observer ' +
  '--name NAME [--scope REGION] | summaries:rebuild';

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const config = loadConfig();
  // Logs go to stderr: stdout carries only the command's result (a token, a summary).
  const log = pino(loggerOptions(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL), pino.destination(2));
  switch (command) {
    case 'db:migrate': {
      const opened = await openDatabase(config, log, { migrate: true, applicationName: 'testigo-cli' });
      await opened.close();
      process.stdout.write('migrations applied\n');
      return 0;
    }
    case 'registry:import':
    case 'demo': {
      const file = command === 'demo' ? DEMO_REGISTRY : args[0];
      if (!file) {
        process.stderr.write(`${usage}\n`);
        return 2;
      }
      const opened = await openDatabase(config, log, { applicationName: 'testigo-cli' });
      try {
        const summary = await (await servicesOf(opened, config)).registry.importCsv(
          systemContext(`cli ${command}`),
          openFile(file),
        );
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return 0;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        process.stderr.write(`${error.code}: ${error.detail}\n`);
        for (const item of error.extra.errors ?? []) process.stderr.write(`  line ${item.line}: ${item.message}\n`);
        return 1;
      } finally {
        await opened.close();
      }
    }
    case 'token:create': {
      const { values } = parseArgs({
        args,
        options: { role: { type: 'string' }, name: { type: 'string' }, scope: { type: 'string' } },
      });
      const role = ROLES.find((known) => known === values.role);
      if (!role || !values.name?.trim()) {
        process.stderr.write(`${usage}\n`);
        return 2;
      }
      const opened = await openDatabase(config, log, { applicationName: 'testigo-cli' });
      try {
        const { user, token } = await (await servicesOf(opened, config)).users.createWithToken(
          systemContext('cli token:create'),
          {
            name: values.name.trim(),
            role,
            scopeRegion: values.scope ?? null,
          },
        );
        process.stderr.write(`created ${user.role} ${user.name} (${user.id}); the token is shown once:\n`);
        process.stdout.write(`${token.token}\n`);
        return 0;
      } finally {
        await opened.close();
      }
    }
    case 'summaries:rebuild': {
      const opened = await openDatabase(config, log, { applicationName: 'testigo-cli' });
      try {
        const started = performance.now();
        const prisma = opened.database.prisma;
        // One transaction without the statement timeout: a national election's reports take a while.
        await prisma.$transaction([
          prisma.$executeRaw`SET LOCAL statement_timeout = 0`,
          prisma.$queryRaw`SELECT testigo_summaries_rebuild()::text`,
          prisma.$queryRaw`SELECT testigo_analysis_rebuild()::text`,
        ]);
        process.stdout.write(`summaries rebuilt in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
        return 0;
      } finally {
        await opened.close();
      }
    }
    default:
      process.stderr.write(`${usage}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      error instanceof ConfigError ? `${error.message}\n` : `${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
