import { describe, expect, it } from 'vitest';
import { setupTestApp } from '../helpers/app.js';
import { registrySample } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const sample = registrySample;
const header = sample.split('\n')[0]!;
const requiredHeader =
  'state_code,state_name,municipality_code,municipality_name,parish_code,parish_name,centre_code,centre_name,table_number,registered_voters';

const importCsv = (body: string | Buffer, contentType = 'text/csv') =>
  app.inject({
    method: 'POST',
    url: '/v1/registry/import',
    headers: { 'content-type': contentType, ...admin.headers },
    body,
  });

function multipart(fields: { name: string; filename?: string; content: string }[]) {
  const boundary = '----testigo-test-boundary';
  const parts = fields.map(
    (field) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${field.name}"${field.filename ? `; filename="${field.filename}"` : ''}\r\n` +
      `${field.filename ? 'Content-Type: text/csv\r\n' : ''}\r\n${field.content}\r\n`,
  );
  return { body: `${parts.join('')}--${boundary}--\r\n`, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Everything the registry holds, to prove a rejected import wrote nothing. */
async function snapshot() {
  const [regions, centres, tables] = await Promise.all([
    db.query('SELECT code, name, level, parent_code, updated_at FROM regions ORDER BY code'),
    db.query('SELECT code, name, address, latitude, longitude, parish_code, updated_at FROM centres ORDER BY code'),
    db.query(
      'SELECT centre_code, number, registered_voters, updated_at FROM polling_tables ORDER BY centre_code, number',
    ),
  ]);
  return { regions, centres, tables };
}

describe('POST /v1/registry/import', () => {
  it('imports a CSV body and reports what it created', async () => {
    const response = await importCsv(sample);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      rows: 8,
      regions: { created: 9, updated: 0, unchanged: 0 },
      centres: { created: 5, updated: 0, unchanged: 0 },
      tables: { created: 8, updated: 0, unchanged: 0 },
    });
    const [centre] = await db.query(
      'SELECT name, address, latitude, longitude, parish_code, municipality_code, state_code FROM centres WHERE code = $1',
      ['010101001'],
    );
    expect(centre).toEqual({
      name: 'ESCUELA MADARIAGA',
      address: 'Av. Urdaneta, esquina Pelota',
      latitude: 10.5061,
      longitude: -66.9146,
      parish_code: '010101',
      municipality_code: '0101',
      state_code: '01',
    });
    const [{ sum }] = (await db.query<{ sum: string }>('SELECT sum(registered_voters) FROM polling_tables')) as [
      { sum: string },
    ];
    expect(Number(sum)).toBe(6337);
  });

  it('changes nothing when the same file is imported again', async () => {
    const before = await snapshot();
    const response = await importCsv(sample);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      regions: { created: 0, updated: 0, unchanged: 9 },
      centres: { created: 0, updated: 0, unchanged: 5 },
      tables: { created: 0, updated: 0, unchanged: 8 },
    });
    expect(await snapshot()).toEqual(before);
  });

  it('updates names and registered voters from a corrected file, and never deletes', async () => {
    const corrected = [
      requiredHeader,
      '01,DISTRITO CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101001,ESCUELA MADARIAGA,1,765',
    ].join('\n');
    const response = await importCsv(corrected);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      regions: { created: 0, updated: 1, unchanged: 2 },
      centres: { created: 0, updated: 0, unchanged: 1 },
      tables: { created: 0, updated: 1, unchanged: 0 },
    });
    const [state] = await db.query('SELECT name FROM regions WHERE code = $1', ['01']);
    expect(state).toEqual({ name: 'DISTRITO CAPITAL' });
    // A file without the address and coordinate columns keeps the stored ones.
    const [centre] = await db.query('SELECT address, latitude FROM centres WHERE code = $1', ['010101001']);
    expect(centre).toEqual({ address: 'Av. Urdaneta, esquina Pelota', latitude: 10.5061 });
    const [{ count }] = (await db.query<{ count: string }>('SELECT count(*) FROM polling_tables')) as [
      { count: string },
    ];
    expect(Number(count)).toBe(8);
  });

  it('accepts a byte-order mark and CRLF line ends', async () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(
        `${requiredHeader}\r\n02,EDO. ANZOATEGUI,0201,MP. ANACO,020101,PQ. ANACO,020101001,ESCUELA ANACO,1,300\r\n`,
      ),
    ]);
    const response = await importCsv(body);
    expect(response.statusCode).toBe(200);
    expect(response.json().tables.created).toBe(1);
  });

  it('accepts a multipart file part', async () => {
    const form = multipart([
      { name: 'note', content: 'ignored field' },
      {
        name: 'file',
        filename: 'registry.csv',
        content: `${requiredHeader}\n02,EDO. ANZOATEGUI,0201,MP. ANACO,020101,PQ. ANACO,020101001,ESCUELA ANACO,2,310\n`,
      },
    ]);
    const response = await importCsv(form.body, form.contentType);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ rows: 1, tables: { created: 1 } });
  });

  describe('rejects a bad file as a whole, naming its lines, and writes nothing', () => {
    const bad: [string, string, RegExp, number][] = [
      ['a missing column', `state_code,state_name\n01,X\n`, /Missing columns: municipality_code/, 1],
      ['an unknown column', `${requiredHeader},colour\n`, /Unknown column "colour"/, 1],
      [
        'non-numeric voters',
        `${requiredHeader}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,many\n`,
        /"many" is not a whole number/,
        2,
      ],
      [
        'negative voters',
        `${requiredHeader}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,-5\n`,
        /not a whole number/,
        2,
      ],
      [
        'a table number of zero',
        `${requiredHeader}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,0,5\n`,
        /not a whole number from 1/,
        2,
      ],
      [
        'duplicate centre and table rows',
        `${requiredHeader}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,5\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,6\n`,
        /Duplicate table 1 of centre 010101009 \(first on line 2\)/,
        3,
      ],
      [
        'a code that changes parent within the file',
        `${requiredHeader}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,5\n13,EDO. MIRANDA,0101,MP. LIBERTADOR,010199,PQ. OTRA,010199001,OTRA,1,5\n`,
        /municipality 0101 changes parent: 01 on line 2, 13 here/,
        3,
      ],
      [
        'a code that changes parent against the registry',
        `${requiredHeader}\n13,EDO. MIRANDA,1301,MP. SUCRE,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,5\n`,
        /parish 010101 changes parent: 0101 in the registry, 1301 in the file/,
        2,
      ],
      [
        'a centre that moves to another parish',
        `${requiredHeader}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010102,PQ. CANDELARIA,010101001,ESCUELA MADARIAGA,9,5\n`,
        /Centre 010101001 changes parent: parish 010101 in the registry, 010102 in the file/,
        2,
      ],
      [
        'a code used at two levels',
        `${requiredHeader}\n01,DTTO. CAPITAL,01,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,5\n`,
        /Code 01 is a state on line 2 and a municipality here/,
        2,
      ],
      ['a row with too few fields', `${requiredHeader}\n01,DTTO. CAPITAL,0101\n`, /Expected 10 fields, found 3/, 2],
      [
        'an unterminated quote',
        `${requiredHeader}\n01,"DTTO. CAPITAL,0101,MP,010101,PQ,010101009,N,1,5\n`,
        /not valid CSV/,
        2,
      ],
      ['a header and no rows', `${requiredHeader}\n`, /header but no rows/, 1],
      ['an empty body', ``, /The file is empty/, 1],
      [
        'a bad code',
        `${requiredHeader}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,../etc/passwd,NUEVA,1,5\n`,
        /not a valid code/,
        2,
      ],
      [
        'half a coordinate pair',
        `${header}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,5,10.5,,\n`,
        /both latitude and longitude/,
        2,
      ],
      [
        'a latitude out of range',
        `${header}\n01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101009,NUEVA,1,5,91,10,\n`,
        /not a coordinate/,
        2,
      ],
    ];
    it.each(bad)('%s', async (_name, body, message, line) => {
      const before = await snapshot();
      // A valid row first, so that a partial write would show.
      const response = await importCsv(body);
      expect(response.statusCode).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = response.json();
      expect(['REGISTRY_CSV_INVALID', 'IMPORT_FILE_MISSING']).toContain(problem.code);
      expect(problem.requestId).toBe(response.headers['x-request-id']);
      expect(problem.detail).toMatch(message);
      if (problem.code === 'REGISTRY_CSV_INVALID') expect(problem.errors[0].line).toBe(line);
      expect(await snapshot()).toEqual(before);
    });

    it('lists every problem line, not only the first', async () => {
      const before = await snapshot();
      const rows = Array.from(
        { length: 150 },
        (_, i) => `01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,0101010${100 + i},N,1,x`,
      );
      const response = await importCsv(
        [requiredHeader, '01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101099,OK,1,5', ...rows].join(
          '\n',
        ),
      );
      expect(response.statusCode).toBe(422);
      const problem = response.json();
      expect(problem.errorCount).toBe(150);
      expect(problem.errors).toHaveLength(100);
      expect(problem.errors.slice(0, 3).map((item: { line: number }) => item.line)).toEqual([3, 4, 5]);
      expect(await snapshot()).toEqual(before);
    });
  });

  it('answers 415 for a body that is neither CSV nor multipart', async () => {
    const response = await importCsv('{"a":1}', 'application/json');
    expect(response.statusCode).toBe(415);
    expect(response.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 400 when a multipart body has no file part', async () => {
    const form = multipart([{ name: 'other', content: 'x' }]);
    const response = await importCsv(form.body, form.contentType);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('IMPORT_FILE_MISSING');
  });
});

describe('POST /v1/registry/import › size limit', async () => {
  const small = await setupTestApp({ env: { REGISTRY_IMPORT_MAX_BYTES: '2048' } });
  const big = `${requiredHeader}\n${Array.from({ length: 100 }, (_, i) => `01,DTTO. CAPITAL,0101,MP. LIBERTADOR,010101,PQ. ALTAGRACIA,010101001,ESCUELA,${i + 1},5`).join('\n')}\n`;

  it('answers 413 PAYLOAD_TOO_LARGE and writes nothing for a CSV body over the limit', async () => {
    const response = await small.app.inject({
      method: 'POST',
      url: '/v1/registry/import',
      headers: { 'content-type': 'text/csv', ...small.admin.headers },
      body: big,
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().code).toBe('PAYLOAD_TOO_LARGE');
    expect(await small.db.query('SELECT 1 FROM polling_tables')).toHaveLength(0);
  });

  it('answers 413 for a chunked body over the limit, which has no Content-Length', async () => {
    const { Readable } = await import('node:stream');
    const response = await small.app.inject({
      method: 'POST',
      url: '/v1/registry/import',
      headers: { 'content-type': 'text/csv', ...small.admin.headers },
      payload: Readable.from([Buffer.from(big.slice(0, 1500)), Buffer.from(big.slice(1500))]),
    });
    expect(response.statusCode).toBe(413);
    expect(await small.db.query('SELECT 1 FROM regions')).toHaveLength(0);
  });

  it('answers 413 for a multipart file over the limit', async () => {
    const form = multipart([{ name: 'file', filename: 'r.csv', content: big }]);
    const response = await small.app.inject({
      method: 'POST',
      url: '/v1/registry/import',
      headers: { 'content-type': form.contentType, ...small.admin.headers },
      body: form.body,
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().code).toBe('PAYLOAD_TOO_LARGE');
    expect(await small.db.query('SELECT 1 FROM regions')).toHaveLength(0);
  });
});
