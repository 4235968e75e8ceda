// The real registry of Venezuela's 2024 election (seed/ve2024), imported through the API.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEMO_REGISTRY } from '../../src/cli/registry-files.js';
import { setupTestApp } from '../helpers/app.js';

// National-size bodies on a busy machine: load shedding (503 SERVICE_OVERLOADED) is not what this tests.
const { app, db, admin } = await setupTestApp({ env: { MAX_EVENT_LOOP_DELAY_MS: '0' } });
const csv = gunzipSync(readFileSync(DEMO_REGISTRY));
const importRegistry = () =>
  app.inject({
    method: 'POST',
    url: '/v1/registry/import',
    headers: { 'content-type': 'text/csv', ...admin.headers },
    body: csv,
  });
const get = (url: string) => app.inject({ url, headers: admin.headers });
const sum = (items: { registeredVoters: number }[]) => items.reduce((total, item) => total + item.registeredVoters, 0);

describe('the 2024 registry', () => {
  it('imports with exactly 24 states, 326 municipalities, 1,072 parishes, 12,817 centres, 24,532 tables, 17,745,239 voters', async () => {
    const response = await importRegistry();
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      rows: 24_532,
      regions: { created: 24 + 326 + 1072 },
      centres: { created: 12_817 },
      tables: { created: 24_532 },
    });
    const states = (await get('/v1/regions?level=state')).json().items;
    const municipalities = (await get('/v1/regions?level=municipality')).json().items;
    const parishes = (await get('/v1/regions?level=parish')).json().items;
    expect([states.length, municipalities.length, parishes.length]).toEqual([24, 326, 1072]);
    for (const level of [states, municipalities, parishes]) {
      expect(sum(level)).toBe(17_745_239);
      expect(level.reduce((total: number, region: { tables: number }) => total + region.tables, 0)).toBe(24_532);
      expect(level.reduce((total: number, region: { centres: number }) => total + region.centres, 0)).toBe(12_817);
    }
    const [counts] = await db.query(
      'SELECT (SELECT count(*)::int FROM centres) AS centres, (SELECT count(*)::int FROM polling_tables) AS tables',
    );
    expect(counts).toEqual({ centres: 12_817, tables: 24_532 });
  });

  it('changes nothing on a second import', async () => {
    const [before] = await db.query(
      'SELECT max(updated_at) AS at FROM (SELECT updated_at FROM regions UNION ALL SELECT updated_at FROM centres UNION ALL SELECT updated_at FROM polling_tables) x',
    );
    const response = await importRegistry();
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      regions: { created: 0, updated: 0, unchanged: 1422 },
      centres: { created: 0, updated: 0, unchanged: 12_817 },
      tables: { created: 0, updated: 0, unchanged: 24_532 },
    });
    const [after] = await db.query(
      'SELECT max(updated_at) AS at FROM (SELECT updated_at FROM regions UNION ALL SELECT updated_at FROM centres UNION ALL SELECT updated_at FROM polling_tables) x',
    );
    expect(after).toEqual(before);
  });

  it('keys names on codes: a parish name shared across municipalities stays two parishes', async () => {
    const [row] = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT name FROM regions WHERE level = $1 GROUP BY name HAVING count(*) > 1) dup',
      ['parish'],
    );
    expect(row!.n).toBeGreaterThan(0);
    const capital = (await get('/v1/regions/01')).json();
    expect(capital).toMatchObject({ name: 'DTTO. CAPITAL', level: 'state', children: 1 });
  });
});
