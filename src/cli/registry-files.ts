// Registry files for the CLI: the shipped 2024 demo registry, and plain or gzipped CSVs from disk.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';

export const DEMO_REGISTRY = fileURLToPath(new URL('../../seed/ve2024/registry.csv.gz', import.meta.url));

export function openFile(file: string): Readable {
  const stream = createReadStream(file);
  if (!file.endsWith('.gz')) return stream;
  const gunzip = createGunzip();
  stream.on('error', (error) => gunzip.destroy(error));
  return stream.pipe(gunzip);
}
