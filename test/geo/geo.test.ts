// The maps: GET /v1/summaries.geojson and GET /v1/centres.geojson through the real app, against the shipped
// boundaries of Venezuela's states (seed/ve-geo) and a registry of one parish per state.
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DEFAULT_REGIONS_GEOJSON } from '../../src/features/geo/geo.boundaries.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp, testConfig } from '../helpers/app.js';
import { registryHeader, seedRegistry, setElection } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const asAdmin = as(app, admin);
const STATES = Array.from({ length: 24 }, (_, i) => String(i + 1).padStart(2, '0'));
let coordinator: TestActor;
let observer: TestActor;

// Per state S: municipality S01, parish S0101, centres S0101001 (with coordinates, 2 tables) and S0101002 (without).
const registry = [
  registryHeader,
  ...STATES.flatMap((s) => [
    `${s},EDO ${s},${s}01,MP ${s},${s}0101,PQ ${s},${s}0101001,ESCUELA ${s},1,500,10.${s},-66.${s},`,
    `${s},EDO ${s},${s}01,MP ${s},${s}0101,PQ ${s},${s}0101001,ESCUELA ${s},2,400,10.${s},-66.${s},`,
    `${s},EDO ${s},${s}01,MP ${s},${s}0101,PQ ${s},${s}0101002,LICEO ${s},1,300,,,`,
  ]),
].join('\n');

const post = async (payload: Record<string, unknown>) => {
  const response = await asAdmin({ method: 'POST', url: '/v1/reports', payload: { id: randomUUID(), ...payload } });
  expect(response.statusCode, response.body).toBe(201);
};

beforeAll(async () => {
  await seedRegistry(app, admin, registry);
  await setElection(app, admin);
  coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
  observer = await createActor(app, 'observer');
  await post({
    kind: 'results',
    centreCode: '010101001',
    table: 1,
    observedAt: '2024-07-28T22:15:00-04:00',
    answers: {
      registeredVoters: 500,
      validVotes: 300,
      nullVotes: 3,
      votes: { EG: 200, NM: 90, LM: 10 },
      citizenAudit: true,
    },
  });
  await post({
    kind: 'opening',
    centreCode: '010101001',
    observedAt: '2024-07-28T06:30:00-04:00',
    answers: { openedAt: '06:20', tableStaffComplete: true, zeroReportPrinted: true, witnessesPresent: ['EG'] },
  });
  await post({
    kind: 'arrival',
    centreCode: '130101002',
    observedAt: '2024-07-28T05:30:00-04:00',
    answers: { accessGranted: true },
  });
});

describe('GET /v1/summaries.geojson', () => {
  it('gives the 24 states, codes 01..24 of the registry, each with its boundary and its summary row', async () => {
    const response = await asAdmin('/v1/summaries.geojson?level=state');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('application/geo+json; charset=utf-8');
    const map = response.json();
    expect(map.type).toBe('FeatureCollection');
    expect(map.features.map((feature: { id: string }) => feature.id)).toEqual(STATES);
    for (const feature of map.features) {
      expect(feature.type).toBe('Feature');
      expect(['Polygon', 'MultiPolygon']).toContain(feature.geometry.type);
      expect(feature.properties.code).toBe(feature.id);
    }
    // Exactly the rows of the JSON summary (the Federal Dependencies of the file, code null, are not among them).
    const rows = (await asAdmin('/v1/summaries?level=state')).json().items;
    expect(map.features.map((feature: { properties: unknown }) => feature.properties)).toEqual(rows);
    expect(map.features[0].properties.results.votes).toEqual({ EG: 200, NM: 90, LM: 10 });
    expect(map.features[0].properties.coverage.centresOpened).toBe(1);
  });

  it('answers 304 to its ETag while nothing changed, and a new one after a report', async () => {
    const first = await asAdmin('/v1/summaries.geojson');
    const tag = first.headers.etag as string;
    expect(tag).toMatch(/^"/);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    const again = await asAdmin({ url: '/v1/summaries.geojson', headers: { 'if-none-match': tag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    await post({
      kind: 'arrival',
      centreCode: '020101001',
      observedAt: '2024-07-28T05:30:00-04:00',
      answers: { accessGranted: true },
    });
    const changed = await asAdmin({ url: '/v1/summaries.geojson', headers: { 'if-none-match': tag } });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(tag);
  });

  it('is scoped like the summaries: a coordinator sees its state, not another; observers and no token are refused', async () => {
    const own = await as(app, coordinator)('/v1/summaries.geojson?level=state');
    expect(own.statusCode, own.body).toBe(200);
    const json = (await as(app, coordinator)('/v1/summaries?level=state')).json();
    expect(own.json().features.map((feature: { properties: unknown }) => feature.properties)).toEqual(json.items);
    expect(own.json().parent).toEqual(json.parent);
    expect((await as(app, coordinator)('/v1/summaries.geojson?parent=02')).statusCode).toBe(404);
    expect((await as(app, observer)('/v1/summaries.geojson')).statusCode).toBe(403);
    expect((await app.inject('/v1/summaries.geojson')).statusCode).toBe(401);
  });

  it('refuses a bad level (400) and a level the boundaries lack (422 GEO_BOUNDARIES_MISSING)', async () => {
    const bad = await asAdmin('/v1/summaries.geojson?level=county');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
    expect((await asAdmin('/v1/summaries.geojson?level=centre')).json().code).toBe('VALIDATION_FAILED');
    const missing = await asAdmin('/v1/summaries.geojson?level=municipality');
    expect(missing.statusCode).toBe(422);
    expect(missing.json().code).toBe('GEO_BOUNDARIES_MISSING');
  });

  it('serves any level that REGIONS_GEOJSON holds (municipalities here)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testigo-geo-'));
    const file = join(dir, 'municipalities.geojson');
    const square = (x: number) => [
      [
        [x, 10],
        [x + 1, 10],
        [x + 1, 11],
        [x, 10],
      ],
    ];
    await writeFile(
      file,
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: { code: '0101' }, geometry: { type: 'Polygon', coordinates: square(-67) } },
        ],
      }),
    );
    const config = testConfig({ DATABASE_URL: db.url, REGIONS_GEOJSON: file });
    const other = await buildApp({ config, database: createDatabase(databaseOptions(config, db.url)) });
    try {
      const response = await as(other, admin)('/v1/summaries.geojson?level=municipality&parent=01');
      expect(response.statusCode, response.body).toBe(200);
      const [feature] = response.json().features;
      expect(feature.id).toBe('0101');
      expect(feature.geometry.coordinates).toEqual(square(-67));
      // The states are not in that file.
      expect((await as(other, admin)('/v1/summaries.geojson?level=state')).json().code).toBe('GEO_BOUNDARIES_MISSING');
    } finally {
      await other.close();
    }
  });
});

describe('GET /v1/centres.geojson', () => {
  it('gives the centres with coordinates as points with their coverage, and counts those without', async () => {
    const response = await asAdmin('/v1/centres.geojson?region=01');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('application/geo+json; charset=utf-8');
    const map = response.json();
    expect(map).toMatchObject({ type: 'FeatureCollection', region: '01', centres: 2, withoutCoordinates: 1 });
    expect(map.features).toEqual([
      {
        type: 'Feature',
        id: '010101001',
        geometry: { type: 'Point', coordinates: [-66.01, 10.01] },
        properties: {
          code: '010101001',
          name: 'ESCUELA 01',
          tables: 2,
          registeredVoters: 900,
          reports: 2,
          opened: true,
          openedAt: '06:20',
          tablesCounted: 1,
          tablesCountedShare: 0.5,
          incidents: 0,
          incidentsOpen: 0,
        },
      },
    ]);
  });

  it('gives the whole country to national roles (state by state), and the scope to a coordinator', async () => {
    const national = (await asAdmin('/v1/centres.geojson')).json();
    expect(national).toMatchObject({ region: null, centres: 48, withoutCoordinates: 24 });
    expect(national.features.map((feature: { id: string }) => feature.id)).toEqual(STATES.map((s) => `${s}0101001`));
    const scoped = (await as(app, coordinator)('/v1/centres.geojson')).json();
    expect(scoped).toMatchObject({ region: '01', centres: 2, withoutCoordinates: 1 });
    expect((await as(app, coordinator)('/v1/centres.geojson?region=13')).statusCode).toBe(404);
    expect((await as(app, observer)('/v1/centres.geojson')).statusCode).toBe(403);
    const tag = (await asAdmin('/v1/centres.geojson?region=13')).headers.etag as string;
    expect(
      (await asAdmin({ url: '/v1/centres.geojson?region=13', headers: { 'if-none-match': tag } })).statusCode,
    ).toBe(304);
  });
});

describe('PUBLIC_SUMMARIES=true', () => {
  it('opens both maps without a token', async () => {
    const config = testConfig({ DATABASE_URL: db.url, PUBLIC_SUMMARIES: 'true' });
    const open = await buildApp({ config, database: createDatabase(databaseOptions(config, db.url)) });
    try {
      const states = await open.inject('/v1/summaries.geojson');
      expect(states.statusCode).toBe(200);
      expect(states.headers['cache-control']).toBe('public, no-cache');
      expect(states.json().features).toHaveLength(24);
      const centres = await open.inject('/v1/centres.geojson?region=01');
      expect(centres.statusCode).toBe(200);
      expect(centres.json().features).toHaveLength(1);
      // Coverage only: nothing about observers or reports' content.
      expect(Object.keys(centres.json().features[0].properties).sort()).toEqual(
        [
          'code',
          'name',
          'tables',
          'registeredVoters',
          'reports',
          'opened',
          'openedAt',
          'tablesCounted',
          'tablesCountedShare',
          'incidents',
          'incidentsOpen',
        ].sort(),
      );
    } finally {
      await open.close();
    }
  });
});

describe('REGIONS_GEOJSON', () => {
  it('defaults to the shipped states, and a wrong file stops the configuration naming it', async () => {
    expect(loadConfig({}).REGIONS_GEOJSON).toBe(DEFAULT_REGIONS_GEOJSON);
    const dir = await mkdtemp(join(tmpdir(), 'testigo-geo-'));
    const cases: [string, string, RegExp][] = [
      ['missing.geojson', '', /cannot read .*ENOENT/],
      ['broken.geojson', '{"type":', /is not JSON/],
      [
        'points.geojson',
        JSON.stringify({
          type: 'FeatureCollection',
          features: [{ type: 'Feature', properties: { code: '01' }, geometry: { type: 'Point', coordinates: [1, 2] } }],
        }),
        /features\.0\.geometry/,
      ],
      [
        'nocode.geojson',
        JSON.stringify({ type: 'FeatureCollection', features: [] }),
        /no feature with a properties\.code/,
      ],
    ];
    for (const [name, content, message] of cases) {
      const file = join(dir, name);
      if (content) await writeFile(file, content);
      let error: unknown;
      try {
        loadConfig({ REGIONS_GEOJSON: file });
      } catch (caught) {
        error = caught;
      }
      expect(error, name).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.join('\n'), name).toMatch(
        new RegExp(`^REGIONS_GEOJSON: .*${message.source}`),
      );
    }
  });
});
