// Builds seed/ve2024/registry.csv.gz (Testigo's registry CSV format) from the 2024 tally-sheet data.
//   npx tsx scripts/build-ve2024-seed.ts [SOURCE_DIR]   (default ../shared/data/ve2024)
// Centre code = CENTRO padded to 9 digits; parish = its first 6 digits, municipality 4, state 2.
// Centre names come from centre-names-2024.csv where present.
import { createReadStream, createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { parse } from 'csv-parse';

const source = resolve(process.argv[2] ?? '../shared/data/ve2024');
const target = resolve('seed/ve2024/registry.csv.gz');

const fixName = (name: string): string => name.trim().replace('MONTA¿A', 'MONTAÑA');
const csvField = (value: string): string => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

async function readCsv(file: string): Promise<Record<string, string>[]> {
  const rows: Record<string, string>[] = [];
  const parser = createReadStream(file).pipe(parse({ columns: true, bom: true, trim: true }));
  for await (const row of parser) rows.push(row as Record<string, string>);
  return rows;
}

const names = new Map<string, string>();
for (const row of await readCsv(`${source}/centre-names-2024.csv`)) {
  const code = row.Codcv?.padStart(9, '0');
  if (code && row.NombreCV) names.set(code, fixName(row.NombreCV));
}

const header =
  'state_code,state_name,municipality_code,municipality_name,parish_code,parish_name,centre_code,centre_name,table_number,registered_voters';
const lines = [header];
const actas = await readCsv(`${source}/actas-2024-v1.csv`);
actas.sort((a, b) => Number(a.CENTRO) - Number(b.CENTRO) || Number(a.MESA) - Number(b.MESA));
for (const row of actas) {
  const centre = String(row.CENTRO).padStart(9, '0');
  lines.push(
    [
      centre.slice(0, 2),
      fixName(row.EDO ?? ''),
      centre.slice(0, 4),
      fixName(row.MUN ?? ''),
      centre.slice(0, 6),
      fixName(row.PAR ?? ''),
      centre,
      names.get(centre) ?? `CENTRO ${centre}`,
      String(Number(row.MESA)),
      String(Number(row.RE)),
    ]
      .map(csvField)
      .join(','),
  );
}
await pipeline(Readable.from([lines.join('\n') + '\n']), createGzip({ level: 9 }), createWriteStream(target));
console.log(`wrote ${lines.length - 1} tables to ${target}`);
