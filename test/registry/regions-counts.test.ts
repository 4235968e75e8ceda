// GET /v1/regions answers the counts of centres, tables and voters per region from the registry's kept
// counts; they must equal a straightforward count from centres and tables, at every level and after imports.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEMO_REGISTRY } from '../../src/cli/registry-files.js';
import { setupTestApp } from '../helpers/app.js';
import { registrySample } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp({ env: { MAX_EVENT_LOOP_DELAY_MS: '0' } });
const sample = registrySample;
const importCsv = async (body: string | Buffer) => {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/registry/import',
    headers: { 'content-type': 'text/csv', ...admin.headers },
    body,
  });
  expect(response.statusCode, response.body).toBe(200);
};

interface Counted {
  code: string;
  name: string;
  level: string;
  parentCode: string | null;
  centres: number;
  tables: number;
  registeredVoters: number;
}

/** Every region with its counts, straight from centres and tables (the query GET /v1/regions used to run). */
async function straightCount(): Promise<Counted[]> {
  return db.query<Counted>(`
    SELECT r.code, r.name, r.level::text AS level, r.parent_code AS "parentCode",
           count(DISTINCT c.code)::int AS centres, count(t.number)::int AS tables, coalesce(sum(t.registered_voters), 0)::int AS "registeredVoters"
    FROM regions r
    LEFT JOIN centres c ON r.code = CASE r.level WHEN 'state' THEN c.state_code WHEN 'municipality' THEN c.municipality_code ELSE c.parish_code END
    LEFT JOIN polling_tables t ON t.centre_code = c.code
    GROUP BY r.code ORDER BY r.code`);
}

async function expectRegionsMatchCount() {
  const expected = await straightCount();
  for (const level of ['state', 'municipality', 'parish']) {
    const response = await app.inject({ url: `/v1/regions?level=${level}`, headers: admin.headers });
    expect(response.statusCode).toBe(200);
    expect(response.json().items, level).toEqual(expected.filter((region) => region.level === level));
  }
  for (const parent of [...new Set(expected.map((region) => region.parentCode).filter((code) => code !== null))].slice(
    0,
    30,
  )) {
    const items = (await app.inject({ url: `/v1/regions?parent=${parent}`, headers: admin.headers })).json().items;
    expect(items, parent!).toEqual(expected.filter((region) => region.parentCode === parent));
  }
  return expected;
}

describe('GET /v1/regions › counts equal a straightforward count', () => {
  it('for the sample registry, and after an import that adds tables, a centre and a parish', async () => {
    await importCsv(sample);
    const before = await expectRegionsMatchCount();
    expect(before.find((region) => region.code === '010101')).toMatchObject({ centres: 1, tables: 2 });
    const header = sample.split('\n')[0];
    await importCsv(`${header}
01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101001,ESCUELA MADARIAGA,3,500,10.5061,-66.9146,"Av. Urdaneta, esquina Pelota"
01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101099,NUEVA ESCUELA,1,100,,,
01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010199,PQ. NUEVA,010199001,OTRA ESCUELA,1,42,,,
`);
    const after = await expectRegionsMatchCount();
    expect(after.find((region) => region.code === '010101')).toMatchObject({
      centres: 2,
      tables: 4,
      registeredVoters: 760 + 737 + 500 + 100,
    });
    expect(after.find((region) => region.code === '010199')).toMatchObject({
      centres: 1,
      tables: 1,
      registeredVoters: 42,
    });
  });

  it('for the national 2024 registry', { timeout: 240_000 }, async () => {
    await importCsv(gunzipSync(readFileSync(DEMO_REGISTRY)));
    const counted = await expectRegionsMatchCount();
    expect(counted.filter((region) => region.level === 'parish')).toHaveLength(1072 + 1);
  });
});
