// The floor for single-report ingest (PERF-NOTES.md): bare Fastify 5 and a pg Pool of 10, one route
// POST /baseline/reports that stores the body as one report-shaped row (uuid, ints, text, timestamptz,
// jsonb, text) with one INSERT per request, in a table of its own. No auth, no validation, no logging.
// Run by bench/ingest.ts: DATABASE_URL=… node --import tsx bench/baseline-server.ts; prints {"url": …}.
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: 10,
  application_name: 'testigo-bench-baseline',
});
await pool.query(`
  CREATE TABLE IF NOT EXISTS baseline_reports (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    centre_code text NOT NULL,
    table_number int,
    form_version int NOT NULL,
    observed_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    answers jsonb NOT NULL,
    notes text
  )`);

interface Body {
  id: string;
  kind: string;
  centreCode: string;
  table?: number;
  observedAt: string;
  answers: unknown;
  notes?: string;
}

const app = Fastify({ logger: false });
app.post<{ Body: Body }>('/baseline/reports', async (request, reply) => {
  const body = request.body;
  const { rows } = await pool.query<{ id: string; received_at: Date }>(
    `INSERT INTO baseline_reports (id, kind, centre_code, table_number, form_version, observed_at, answers, notes)
     VALUES ($1, $2, $3, $4, 1, $5, $6, $7) RETURNING id, received_at`,
    [
      body.id,
      body.kind,
      body.centreCode,
      body.table ?? null,
      body.observedAt,
      JSON.stringify(body.answers),
      body.notes ?? null,
    ],
  );
  return reply.code(201).send({ id: rows[0]!.id, receivedAt: rows[0]!.received_at.toISOString() });
});
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(JSON.stringify({ url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` }));
process.on(
  'SIGTERM',
  () =>
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0)),
);
