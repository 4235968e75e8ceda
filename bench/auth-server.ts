// The server the auth benchmark loads: the real app (config from the environment) plus two identical
// GET routes, one public and one behind the bearer-token check, each reading one region.
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDatabase, databaseOptions } from '../src/infra/db/client.js';

const config = loadConfig();
const database = createDatabase(databaseOptions(config, config.DATABASE_URL!, 'testigo-bench'));
const app = await buildApp({ config, database, logger: false });
const handler = async () =>
  database.prisma.region.findUnique({ where: { code: '01' }, select: { code: true, name: true } });
app.get('/bench/open', { config: { public: true } }, handler);
app.get('/bench/authenticated', handler);
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(JSON.stringify({ url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` }));
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
