// Observer onboarding: POST /v1/users/import of 1,000 observers with two real centres each, on the
// national 2024 registry, first (creates users and tokens) and again (changes nothing), next to a bare
// pg load of the same rows (users, token hashes, assignments; three INSERT … SELECT unnest) as the
// baseline.   npm run bench -- users-import
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { DEMO_REGISTRY } from '../src/cli/registry-files.js';
import { newToken } from '../src/infra/auth/tokens.js';
import { adminHeaders, ensureBuilt, killAllServers, startServer, waitForOk } from '../test/helpers/server-process.js';
import { dropDatabases, freshDatabase, type Row, report } from './lib.js';

const OBSERVERS = 1000;

export async function usersImportBench(): Promise<void> {
  await ensureBuilt();
  const registry = gunzipSync(readFileSync(DEMO_REGISTRY));
  const centres = [
    ...new Set(
      registry
        .toString('utf8')
        .split('\n')
        .slice(1)
        .map((line) => line.match(/,(\d{9}),/)?.[1])
        .filter(Boolean),
    ),
  ] as string[];
  const observers = Array.from({ length: OBSERVERS }, (_, i) => ({
    externalId: `V-${20_000_000 + i}`,
    name: `Observer ${i}`,
    phone: `+58 414 ${1_000_000 + i}`,
    centres: [centres[(i * 7) % centres.length]!, centres[(i * 7 + 3) % centres.length]!],
  }));
  const csv = [
    'external_id,name,phone,email,scope_region,centres',
    ...observers.map((o) => `${o.externalId},${o.name},${o.phone},,,${o.centres.join(';')}`),
  ].join('\n');
  const rows: Row[] = [];
  try {
    const url = await freshDatabase('users');
    const server = startServer({ DATABASE_URL: url });
    const base = await server.listening();
    await waitForOk(`${base}/readyz`, 30_000);
    const post = async (path: string, contentType: string, body: Buffer | string) => {
      const started = performance.now();
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': contentType, ...adminHeaders },
        body,
      });
      const json = (await response.json()) as Record<string, unknown>;
      if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
      return { seconds: (performance.now() - started) / 1000, json };
    };
    await post('/v1/registry/import', 'text/csv', registry);
    const first = await post('/v1/users/import', 'text/csv', csv);
    rows.push({
      case: `import ${OBSERVERS} observers (created, with tokens)`,
      seconds: first.seconds,
      'observers/s': Math.round(OBSERVERS / first.seconds),
      result: `${first.json.created} created`,
    });
    const again = await post('/v1/users/import', 'text/csv', csv);
    rows.push({
      case: 'the same file again (nothing changes)',
      seconds: again.seconds,
      'observers/s': Math.round(OBSERVERS / again.seconds),
      result: `${again.json.unchanged} unchanged`,
    });
    await server.stop();

    // Baseline: the same rows straight into the tables that POST /v1/users/import fills.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const started = performance.now();
    const ids = observers.map(() => randomUUID());
    const tokens = observers.map(() => newToken());
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO users (id, external_id, name, phone, role) SELECT id, 'B' || x, n, p, 'observer' FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS t(id, x, n, p)`,
      [ids, observers.map((o) => o.externalId), observers.map((o) => o.name), observers.map((o) => o.phone)],
    );
    await client.query(
      'INSERT INTO api_tokens (id, user_id, hash, prefix) SELECT gen_random_uuid(), u, h, p FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(u, h, p)',
      [ids, tokens.map((t) => t.hash), tokens.map((t) => t.prefix)],
    );
    await client.query('INSERT INTO assignments (user_id, centre_code) SELECT * FROM unnest($1::uuid[], $2::text[])', [
      observers.flatMap((_, i) => [ids[i], ids[i]]),
      observers.flatMap((o) => o.centres),
    ]);
    await client.query('COMMIT');
    const seconds = (performance.now() - started) / 1000;
    await client.end();
    rows.push({
      case: 'baseline: bare pg insert of the same rows',
      seconds,
      'observers/s': Math.round(OBSERVERS / seconds),
      result: '',
    });
    await report(
      'users-import',
      `Observer onboarding (${OBSERVERS} observers, 2 centres each, national registry loaded)`,
      rows,
      [
        'the import also parses and checks the CSV, checks centres and scope, writes one audit row per user and token, and answers with every token',
      ],
    );
  } finally {
    await killAllServers();
    await dropDatabases();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await usersImportBench();
