// Testigo's command line: `npm run cli -- <command>` (also behind db:migrate, registry:import and demo).
//   db:migrate              apply pending migrations
//   registry:import FILE    import a registry CSV (.csv or .csv.gz)
//   demo [--with-results]   import the shipped Venezuela 2024 registry (seed/ve2024); with --with-results also
//                           set the 2024 election and load its 24,532 real tally sheets as results reports
//   token:create --role ROLE --name NAME [--scope REGION]   create a user and print its first token
//   summaries:rebuild       recompute every summary tally and process analysis from the reports (writers wait meanwhile)
//   log:verify              recompute every log entry from the rows and check the log and its checkpoints
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { buildApp } from '../app.js';
import { ConfigError, loadConfig } from '../config.js';
import { type LogKeys, loadLogKeys } from '../features/log/log.keys.js';
import { formatProblem } from '../features/log/log.verify.js';
import { ROLES, systemContext } from '../infra/auth/actor.js';
import { type OpenedDatabase, openDatabase } from '../infra/db/bootstrap.js';
import { AppError } from '../infra/errors.js';
import { loggerOptions } from '../infra/logger.js';
import { createStore } from '../infra/storage/index.js';
import { buildServices } from '../services.js';
import { type DemoResults, loadDemoResults } from './demo-results.js';
import { DEMO_REGISTRY, openFile } from './registry-files.js';

/** The services, built as the API builds them (src/services.ts), without a listener: nothing is cached. */
const servicesOf = async (opened: OpenedDatabase, config: ReturnType<typeof loadConfig>, logKeys?: LogKeys) =>
  buildServices({
    database: opened.database,
    store: await createStore(config),
    config,
    logKeys: logKeys ?? (await loadLogKeys(config)),
  });

const usage =
  'usage: cli db:migrate | registry:import FILE | demo [--with-results] | token:create --role admin|coordinator|analyst|observer ' +
  '--name NAME [--scope REGION] | summaries:rebuild | log:verify';

const percent = (share: number | null) => (share === null ? '-' : `${(share * 100).toFixed(2)}%`);

/** The results of the demo through the real app's batch route (src/cli/demo-results.ts), with progress on stderr. */
async function demoResults(
  config: ReturnType<typeof loadConfig>,
  opened: OpenedDatabase,
  log: pino.Logger,
): Promise<DemoResults> {
  const app = await buildApp({ config, database: opened.database, closeDatabase: false, loggerInstance: log });
  try {
    await app.ready();
    const loaded = await loadDemoResults(app, {
      onProgress: ({ done, total, created, replayed }) =>
        process.stderr.write(`\rresults: ${done}/${total} tally sheets (${created} new, ${replayed} already loaded)`),
    });
    process.stderr.write('\n');
    const { results, coverage } = loaded.national;
    const lines = [
      `loaded ${loaded.total} tally sheets in ${(loaded.durationMs / 1000).toFixed(1)} s: ${loaded.created} new, ` +
        `${loaded.replayed} already there, ${loaded.failed} refused`,
      `national: ${coverage.tablesCounted} of ${coverage.tables} tables counted; turnout ${percent(results.turnout)} ` +
        `(${results.votesCast} votes cast of ${results.registeredVoters} registered on those tally sheets)`,
      ...Object.entries(results.votes)
        .sort(([, a], [, b]) => b - a)
        .map(
          ([code, votes]) =>
            `  ${code.padEnd(5)} ${String(votes).padStart(10)}  ${percent(results.shares[code] ?? null)}`,
        ),
      'open http://127.0.0.1:3000/dashboard (or GET /v1/summaries/national) to see them',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return loaded;
  } finally {
    await app.close();
  }
}

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
      const withResults = command === 'demo' && args.includes('--with-results');
      if (!file || (command === 'demo' && args.some((arg) => arg !== '--with-results'))) {
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
        if (withResults) await demoResults(config, opened, log);
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
    case 'log:verify': {
      // The key is read, never generated: a log without its key cannot be verified.
      const logKeys = await loadLogKeys(config, { generate: false });
      const opened = await openDatabase(config, log, { applicationName: 'testigo-cli' });
      try {
        const started = performance.now();
        const outcome = await (await servicesOf(opened, config, logKeys)).log.verify();
        for (const problem of outcome.problems) process.stdout.write(`${formatProblem(problem)}\n`);
        const { checked } = outcome;
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        process.stdout.write(
          outcome.ok
            ? `log verified: ${checked.leaves} entries, ${checked.rows} rows, ${checked.checkpoints} checkpoints; ` +
                `size ${checked.size}, root ${checked.rootHash ?? '(empty)'} (${seconds} s)\n`
            : `log:verify found ${outcome.problems.length} problem(s) in ${checked.leaves} entries and ${checked.rows} rows (${seconds} s)\n`,
        );
        return outcome.ok ? 0 : 1;
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
