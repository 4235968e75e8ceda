import { beforeAll, describe, expect, it } from 'vitest';
import { setupTestApp } from '../helpers/app.js';
import { registrySample } from '../helpers/factories.js';

const { app, admin } = await setupTestApp();
const sample = registrySample;
const get = (url: string) => app.inject({ method: 'GET', url, headers: admin.headers });

beforeAll(async () => {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/registry/import',
    headers: { 'content-type': 'text/csv', ...admin.headers },
    body: sample,
  });
  expect(response.statusCode).toBe(200);
});

function expectProblem(response: Awaited<ReturnType<typeof get>>, status: number, code: string) {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.json()).toMatchObject({ status, code, requestId: response.headers['x-request-id'] });
}

describe('GET /v1/regions', () => {
  it('lists the states with their counts when no filter is given', async () => {
    const response = await get('/v1/regions');
    expect(response.statusCode).toBe(200);
    expect(response.json().items).toEqual([
      {
        code: '01',
        name: 'DTTO. CAPITAL',
        level: 'state',
        parentCode: null,
        centres: 3,
        tables: 4,
        registeredVoters: 2507,
      },
      {
        code: '13',
        name: 'EDO. MIRANDA',
        level: 'state',
        parentCode: null,
        centres: 2,
        tables: 4,
        registeredVoters: 3830,
      },
    ]);
  });

  it('lists a level across the country', async () => {
    const response = await get('/v1/regions?level=parish');
    expect(response.json().items.map((r: { code: string; tables: number }) => [r.code, r.tables])).toEqual([
      ['010101', 2],
      ['010102', 2],
      ['130101', 3],
      ['130201', 1],
    ]);
  });

  it('lists the children of a parent', async () => {
    const response = await get('/v1/regions?parent=13');
    expect(
      response.json().items.map((r: { code: string; level: string; centres: number }) => [r.code, r.level, r.centres]),
    ).toEqual([
      ['1301', 'municipality', 1],
      ['1302', 'municipality', 1],
    ]);
  });

  it('combines level and parent', async () => {
    const response = await get('/v1/regions?parent=0101&level=parish');
    expect(response.json().items).toHaveLength(2);
    expect((await get('/v1/regions?parent=0101&level=state')).json().items).toEqual([]);
  });

  it('answers 404 NOT_FOUND for an unknown parent', async () => {
    expectProblem(await get('/v1/regions?parent=99'), 404, 'NOT_FOUND');
  });

  it.each([
    ['an unknown level', '/v1/regions?level=county'],
    ['an unknown parameter', '/v1/regions?colour=red'],
    ['a malformed code', '/v1/regions?parent=%27%3B%20DROP'],
  ])('answers 400 VALIDATION_FAILED for %s', async (_name, url) => {
    const response = await get(url);
    expectProblem(response, 400, 'VALIDATION_FAILED');
    expect(response.json().errors[0]).toMatchObject({ in: 'querystring' });
  });
});

describe('GET /v1/regions/{code}', () => {
  it('returns a parish with its ancestors and counts', async () => {
    const response = await get('/v1/regions/130101');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      code: '130101',
      name: 'PQ. PETARE',
      level: 'parish',
      parentCode: '1301',
      centres: 1,
      tables: 3,
      registeredVoters: 2630,
      path: [
        { code: '13', name: 'EDO. MIRANDA', level: 'state' },
        { code: '1301', name: 'MP. SUCRE', level: 'municipality' },
      ],
      children: 0,
    });
  });

  it('returns a state with its number of children', async () => {
    const response = await get('/v1/regions/01');
    expect(response.json()).toMatchObject({ code: '01', path: [], children: 1, registeredVoters: 2507 });
  });

  it('answers 404 for an unknown code', async () => {
    expectProblem(await get('/v1/regions/42'), 404, 'NOT_FOUND');
  });
});

describe('GET /v1/centres', () => {
  it('lists centres in code order with their tables and voters', async () => {
    const response = await get('/v1/centres');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.nextCursor).toBeNull();
    expect(body.items.map((c: { code: string }) => c.code)).toEqual([
      '010101001',
      '010102001',
      '010102002',
      '130101001',
      '130201001',
    ]);
    expect(body.items[0]).toEqual({
      code: '010101001',
      name: 'ESCUELA MADARIAGA',
      address: 'Av. Urdaneta, esquina Pelota',
      latitude: 10.5061,
      longitude: -66.9146,
      parishCode: '010101',
      municipalityCode: '0101',
      stateCode: '01',
      tableCount: 2,
      registeredVoters: 1497,
    });
  });

  it.each([
    ['01', ['010101001', '010102001', '010102002']],
    ['0101', ['010101001', '010102001', '010102002']],
    ['010102', ['010102001', '010102002']],
    ['1302', ['130201001']],
  ])('filters by a region at any level (%s)', async (region, codes) => {
    const response = await get(`/v1/centres?region=${region}`);
    expect(response.json().items.map((c: { code: string }) => c.code)).toEqual(codes);
  });

  it('searches names and codes, case-insensitively, with wildcards taken literally', async () => {
    expect((await get('/v1/centres?q=escuela')).json().items.map((c: { code: string }) => c.code)).toEqual([
      '010101001',
      '010102002',
    ]);
    expect((await get('/v1/centres?q=13020')).json().items.map((c: { code: string }) => c.code)).toEqual(['130201001']);
    expect((await get('/v1/centres?q=%25')).json().items).toEqual([]);
    expect((await get('/v1/centres?q=_')).json().items).toEqual([]);
  });

  it('pages with an opaque cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let url = '/v1/centres?limit=2';
    for (let page = 0; page < 10; page += 1) {
      const body = (await get(url)).json();
      seen.push(...body.items.map((c: { code: string }) => c.code));
      if (!body.nextCursor) break;
      expect(body.items).toHaveLength(2);
      url = `/v1/centres?limit=2&cursor=${body.nextCursor}`;
    }
    expect(seen).toEqual(['010101001', '010102001', '010102002', '130101001', '130201001']);
  });

  it('keeps the filters when paging', async () => {
    const first = (await get('/v1/centres?region=01&limit=2')).json();
    const second = (await get(`/v1/centres?region=01&limit=2&cursor=${first.nextCursor}`)).json();
    expect(second.items.map((c: { code: string }) => c.code)).toEqual(['010102002']);
    expect(second.nextCursor).toBeNull();
  });

  it('answers 404 for an unknown region', async () => {
    expectProblem(await get('/v1/centres?region=77'), 404, 'NOT_FOUND');
  });

  it.each([
    ['a limit of zero', '/v1/centres?limit=0'],
    ['a limit over 500', '/v1/centres?limit=501'],
    ['a non-numeric limit', '/v1/centres?limit=ten'],
    ['a forged cursor', '/v1/centres?cursor=bm90LWpzb24'],
    ['an empty search', '/v1/centres?q=%20'],
    ['an unknown parameter', '/v1/centres?page=2'],
  ])('answers 400 VALIDATION_FAILED for %s', async (_name, url) => {
    expectProblem(await get(url), 400, 'VALIDATION_FAILED');
  });
});

describe('GET /v1/centres/{code}', () => {
  it('returns the centre with its regions and tables', async () => {
    const response = await get('/v1/centres/130101001');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      code: '130101001',
      name: 'UNIDAD EDUCATIVA PETARE',
      address: null,
      latitude: null,
      longitude: null,
      state: { code: '13', name: 'EDO. MIRANDA' },
      municipality: { code: '1301', name: 'MP. SUCRE' },
      parish: { code: '130101', name: 'PQ. PETARE' },
      tableCount: 3,
      registeredVoters: 2630,
      tables: [
        { number: 1, registeredVoters: 900 },
        { number: 2, registeredVoters: 880 },
        { number: 3, registeredVoters: 850 },
      ],
    });
    expect(Date.parse(body.createdAt)).not.toBeNaN();
  });

  it('answers 404 for an unknown centre and 400 for a malformed code', async () => {
    expectProblem(await get('/v1/centres/999999999'), 404, 'NOT_FOUND');
    expectProblem(await get('/v1/centres/%2E%2E%2Fetc'), 400, 'VALIDATION_FAILED');
  });
});
