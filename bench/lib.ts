// Shared pieces of the benchmarks: a PostgreSQL to run on, fresh databases, process memory, and the
// side-by-side table every benchmark prints (and writes as JSON under bench/results/).
// Diagnostics: BENCH_DATABASE_URL runs on another PostgreSQL (e.g. a private one started with
// shared_preload_libraries=pg_stat_statements, to see where the database's time goes); BENCH_KEEP_DATABASES=1
// keeps the databases a run creates (to query them afterwards); BENCH_TRACK_FUNCTIONS=1 sets track_functions=all
// on them (pg_stat_user_functions: calls and time of every trigger and function).

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { DEMO_REGISTRY } from '../src/cli/registry-files.js';
import { adminHeaders, ROOT, waitForOk } from '../test/helpers/server-process.js';

/** The PostgreSQL server the benchmarks create their databases on. */
export const adminUrl =
  process.env.BENCH_DATABASE_URL ||
  process.env.TEST_DATABASE_URL ||
  process.env.DATABASE_URL ||
  'postgresql://postgres@127.0.0.1:5432/test';

export function urlFor(database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const created: string[] = [];

/** An empty database (the server migrates it at start), dropped by dropDatabases(). */
export async function freshDatabase(label: string): Promise<string> {
  const name = `testigo_bench_${label}_${randomBytes(3).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  if (process.env.BENCH_TRACK_FUNCTIONS) await client.query(`ALTER DATABASE ${name} SET track_functions = 'all'`);
  await client.end();
  if (!process.env.BENCH_KEEP_DATABASES) created.push(name);
  return urlFor(name);
}

export async function dropDatabases(): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  for (const name of created.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.end();
}

/** Resident and peak resident memory of a process, in MB, from /proc (Linux). */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

export type Row = Record<string, string | number>;

/** Prints rows as an aligned table and writes them, with the run's context, to bench/results/NAME.json. */
export async function report(name: string, title: string, rows: Row[], notes: string[] = []): Promise<void> {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (value: string | number | undefined) =>
    typeof value === 'number'
      ? Number.isInteger(value)
        ? value.toLocaleString('en-US')
        : value.toFixed(2)
      : (value ?? '');
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => String(cell(row[column])).length)),
  );
  const line = (values: string[]) => `| ${values.map((value, i) => value.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(columns));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(columns.map((column) => String(cell(row[column])))));
  for (const note of notes) console.log(note);
  const dir = join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, `${name}.json`),
    `${JSON.stringify({ name, title, at: new Date().toISOString(), node: process.version, rows, notes }, null, 2)}\n`,
  );
}

/** The ten candidates of 2024 as [code, name], in ballot order. */
export const CANDIDATES = [
  ['EG', 'Edmundo González Urrutia'],
  ['NM', 'Nicolás Maduro Moros'],
  ['LM', 'Luis Eduardo Martínez'],
  ['JABE', 'Javier Bertucci'],
  ['JOBR', 'José Brito'],
  ['AE', 'Antonio Ecarri'],
  ['CF', 'Claudio Fermín'],
  ['DC', 'Daniel Ceballos'],
  ['EM', 'Enrique Márquez'],
  ['BERA', 'Benjamín Rausseo'],
] as const;

/** The national 2024 registry CSV (24,532 tables) shipped in seed/ve2024. */
export const nationalRegistry = (): Buffer => gunzipSync(readFileSync(DEMO_REGISTRY));

/** Once the server at `base` is ready, imports `registry` and sets the 2024 election through the API, as the bootstrap admin. */
export async function setUpElection(base: string, registry: Buffer): Promise<void> {
  await waitForOk(`${base}/readyz`, 30_000);
  const send = async (method: string, path: string, contentType: string, body: string | Buffer) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': contentType, ...adminHeaders },
      body,
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
  await send('POST', '/v1/registry/import', 'text/csv', registry);
  await send(
    'PUT',
    '/v1/election',
    'application/json',
    JSON.stringify({
      name: 'Elección presidencial 2024',
      date: '2024-07-28',
      timeZone: 'America/Caracas',
      candidates: CANDIDATES.map(([code, name]) => ({ code, name })),
    }),
  );
}
