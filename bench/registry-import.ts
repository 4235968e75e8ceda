// Registry import: the national 2024 registry (24,532 tables) and a synthetic one four times its size,
// through POST /v1/registry/import of the built server, next to a bare pg loader of the same rows
// (csv-parse + three INSERT … SELECT unnest statements, no validation) as the baseline.
// Prints time, rows/s and the server's peak resident memory.   npm run bench -- registry-import
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { DEMO_REGISTRY } from '../src/cli/registry-files.js';
import { migrate } from '../src/infra/db/migrator.js';
import { adminHeaders, ensureBuilt, killAllServers, startServer, waitForOk } from '../test/helpers/server-process.js';
import { dropDatabases, freshDatabase, memoryOf, type Row, report } from './lib.js';

const national = gunzipSync(readFileSync(DEMO_REGISTRY)).toString('utf8');

/** The national registry `copies` times, each copy under its own codes (prefixed), so every row is new. */
function synthetic(copies: number): string {
  const [header, ...rows] = national.trimEnd().split('\n');
  const out = [header];
  for (let copy = 1; copy <= copies; copy += 1) {
    for (const row of rows)
      out.push(
        row.replace(
          /^(\d+),(.*?),(\d+),(.*?),(\d+),(.*?),(\d+),/,
          (_m, s, sn, m, mn, p, pn, c) => `S${copy}${s},${sn},S${copy}${m},${mn},S${copy}${p},${pn},S${copy}${c},`,
        ),
      );
  }
  return `${out.join('\n')}\n`;
}

async function timedImport(base: string, csv: string): Promise<{ seconds: number; body: { rows: number } }> {
  const started = performance.now();
  const response = await fetch(`${base}/v1/registry/import`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', ...adminHeaders },
    body: Readable.toWeb(Readable.from([Buffer.from(csv)], { objectMode: false })) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const body = (await response.json()) as { rows: number };
  if (response.status !== 200) throw new Error(`import failed: ${response.status} ${JSON.stringify(body)}`);
  return { seconds: (performance.now() - started) / 1000, body };
}

async function baseline(url: string, csv: string): Promise<number> {
  const started = performance.now();
  const records = parse(csv, { columns: true, bom: true, trim: true }) as Record<string, string>[];
  const regions = new Map<string, [string, string, string, string | null]>();
  const centres = new Map<string, string[]>();
  const tables: [string, number, number][] = [];
  for (const r of records) {
    regions.set(r.state_code!, [r.state_code!, r.state_name!, 'state', null]);
    regions.set(r.municipality_code!, [r.municipality_code!, r.municipality_name!, 'municipality', r.state_code!]);
    regions.set(r.parish_code!, [r.parish_code!, r.parish_name!, 'parish', r.municipality_code!]);
    centres.set(r.centre_code!, [r.centre_code!, r.centre_name!, r.parish_code!, r.municipality_code!, r.state_code!]);
    tables.push([r.centre_code!, Number(r.table_number), Number(r.registered_voters)]);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  const columns = <T>(rows: T[][], i: number) => rows.map((row) => row[i]);
  for (const level of ['state', 'municipality', 'parish']) {
    const rows = [...regions.values()].filter((region) => region[2] === level);
    await client.query(
      'INSERT INTO regions (code, name, level, parent_code) SELECT c, n, l::region_level, p FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(c, n, l, p)',
      [columns(rows, 0), columns(rows, 1), columns(rows, 2), columns(rows, 3)],
    );
  }
  const centreRows = [...centres.values()];
  await client.query(
    'INSERT INTO centres (code, name, parish_code, municipality_code, state_code) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])',
    [0, 1, 2, 3, 4].map((i) => columns(centreRows, i)),
  );
  await client.query(
    'INSERT INTO polling_tables (centre_code, number, registered_voters) SELECT * FROM unnest($1::text[], $2::int[], $3::int[])',
    [0, 1, 2].map((i) => columns(tables, i)),
  );
  await client.query('COMMIT');
  await client.end();
  return (performance.now() - started) / 1000;
}

export async function registryImportBench(): Promise<void> {
  await ensureBuilt();
  const large = synthetic(4);
  const largeRows = large.split('\n').length - 2;
  const rows: Row[] = [];
  try {
    const server = startServer({ DATABASE_URL: await freshDatabase('import') });
    const base = await server.listening();
    await waitForOk(`${base}/readyz`, 30_000);
    const idle = memoryOf(server.pid);
    const add = (name: string, n: number, seconds: number) => {
      const memory = memoryOf(server.pid);
      rows.push({
        case: name,
        rows: n,
        seconds,
        'rows/s': Math.round(n / seconds),
        'server RSS MB': memory.rssMb,
        'server peak RSS MB': memory.peakMb,
      });
    };
    add('national 2024, first import', 24_532, (await timedImport(base, national)).seconds);
    add('national 2024, same file again', 24_532, (await timedImport(base, national)).seconds);
    add('synthetic 4x national, first import', largeRows, (await timedImport(base, large)).seconds);
    await server.stop();

    const baselineDb = await freshDatabase('baseline');
    await migrate(baselineDb);
    rows.push({
      case: 'baseline: bare pg loader, national',
      rows: 24_532,
      seconds: await baseline(baselineDb, national),
    });
    rows[rows.length - 1]!['rows/s'] = Math.round(24_532 / (rows[rows.length - 1]!.seconds as number));
    const baselineLarge = await freshDatabase('baseline4');
    await migrate(baselineLarge);
    const seconds = await baseline(baselineLarge, large);
    rows.push({
      case: 'baseline: bare pg loader, 4x',
      rows: largeRows,
      seconds,
      'rows/s': Math.round(largeRows / seconds),
    });
    await report('registry-import', 'Registry import (POST /v1/registry/import, built server, one process)', rows, [
      `server RSS when idle after start: ${idle.rssMb.toFixed(1)} MB (peak so far ${idle.peakMb.toFixed(1)} MB)`,
      'the baseline validates nothing and holds the whole file in memory; it is the floor for the SQL work',
    ]);
  } finally {
    await killAllServers();
    await dropDatabases();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await registryImportBench();
