// GET /v1/regions with the national 2024 registry (24 states, 326 municipalities, 1,072 parishes, 12,817
// centres): the counts of centres, tables and voters per region, at each level, in process (app.inject).
//   npm run bench -- regions
import { Readable } from 'node:stream';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createUsersService } from '../src/features/users/users.service.js';
import { systemContext } from '../src/infra/auth/actor.js';
import { createDatabase, databaseOptions } from '../src/infra/db/client.js';
import { migrate } from '../src/infra/db/migrator.js';
import { dropDatabases, freshDatabase, nationalRegistry, type Row, report } from './lib.js';

const RUNS = 20;

export async function regionsBench(): Promise<void> {
  const url = await freshDatabase('regions');
  try {
    await migrate(url);
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: '/nonexistent-testigo-data',
      DATABASE_URL: url,
      MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    const database = createDatabase(databaseOptions(config, url));
    const app = await buildApp({ config, database });
    try {
      const { token } = await createUsersService(database.prisma).createWithToken(systemContext('bench'), {
        name: 'Bench admin',
        role: 'admin',
        scopeRegion: null,
      });
      const headers = { authorization: `Bearer ${token.token}` };
      const imported = await app.inject({
        method: 'POST',
        url: '/v1/registry/import',
        headers: { ...headers, 'content-type': 'text/csv' },
        payload: Readable.from([nationalRegistry()]),
      });
      if (imported.statusCode !== 200) throw new Error(`import: ${imported.statusCode} ${imported.body}`);
      const rows: Row[] = [];
      for (const query of ['level=state', 'level=municipality', 'level=parish', 'parent=13', 'parent=1301']) {
        const times: number[] = [];
        let items = 0;
        for (let run = 0; run < RUNS; run += 1) {
          const started = performance.now();
          const response = await app.inject({ url: `/v1/regions?${query}`, headers });
          times.push(performance.now() - started);
          if (response.statusCode !== 200) throw new Error(`${query}: ${response.statusCode}`);
          items = (response.json() as { items: unknown[] }).items.length;
        }
        times.sort((a, b) => a - b);
        rows.push({
          query: `GET /v1/regions?${query}`,
          items,
          'median ms': times[Math.floor(RUNS / 2)]!,
          'max ms': times.at(-1)!,
          'target ms': 50,
        });
      }
      await report('regions', `GET /v1/regions with the national registry, ${RUNS} runs each (in process)`, rows);
    } finally {
      await app.close();
    }
  } finally {
    await dropDatabases();
  }
}
