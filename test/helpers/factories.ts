// Factories for the data tests keep rebuilding: the sample registry, the election, a report of each kind,
// a multipart photo upload. Each goes through the real API (app.inject) and fails loudly when refused.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { as, type TestActor } from './actors.js';

/** test/fixtures/registry-sample.csv: 5 centres, 8 tables in states 01 and 13. */
export const registrySample = readFileSync(new URL('../fixtures/registry-sample.csv', import.meta.url), 'utf8');
export const registryHeader = registrySample.split('\n')[0]!;

/**
 * The sample registry with `tables` extra tables (numbered from 101) at each of `centres`, each with
 * `registeredVoters`: tables of its own for each test that needs one (a result with no rival).
 */
export function registryWithTables(tables: number, centres: string[] = ['010101001'], registeredVoters = 700): string {
  const rows = registrySample.trimEnd().split('\n');
  const extra = centres.flatMap((centre) => {
    const template = rows.find((row) => row.split(',')[6] === centre);
    if (!template) throw new Error(`centre ${centre} is not in the sample registry`);
    // The centre's own fields (the first eight are plain; coordinates and address follow table and voters).
    const fields = template.split(',');
    const rest = fields.slice(10).join(',');
    return Array.from({ length: tables }, (_, index) =>
      [...fields.slice(0, 8), String(101 + index), String(registeredVoters), rest].join(','),
    );
  });
  return [...rows, ...extra].join('\n');
}

/**
 * `send` again while the app answers 503 SERVICE_OVERLOADED (its event-loop guard, tripped by a loaded
 * machine rather than by the test), for up to 30 s.
 */
async function unlessOverloaded<T extends { statusCode: number }>(send: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await send();
    if (response.statusCode !== 503 || Date.now() > deadline) return response;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** POST /v1/registry/import of `csv` (the sample registry unless told otherwise) as `actor`. */
export async function seedRegistry(app: FastifyInstance, actor: TestActor, csv: string = registrySample) {
  const response = await unlessOverloaded(() =>
    as(app, actor)({ method: 'POST', url: '/v1/registry/import', headers: { 'content-type': 'text/csv' }, body: csv }),
  );
  if (response.statusCode !== 200) throw new Error(`registry import: ${response.statusCode} ${response.body}`);
  return response.json();
}

export const CANDIDATES = [
  { code: 'EG', name: 'Edmundo González' },
  { code: 'NM', name: 'Nicolás Maduro' },
  { code: 'LM', name: 'Luis Martínez' },
];
export const ELECTION = {
  name: 'Presidential 2024',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  candidates: CANDIDATES,
};

/** PUT /v1/election as `actor`: the 2024 presidential election with its three candidates, unless overridden. */
export async function setElection(app: FastifyInstance, actor: TestActor, overrides: Record<string, unknown> = {}) {
  const response = await unlessOverloaded(() =>
    as(app, actor)({ method: 'PUT', url: '/v1/election', payload: { ...ELECTION, ...overrides } }),
  );
  if (response.statusCode !== 200) throw new Error(`election: ${response.statusCode} ${response.body}`);
  return response.json();
}

const answersOf = {
  arrival: () => ({ accessGranted: true }),
  opening: () => ({
    openedAt: '06:10',
    tableStaffComplete: true,
    zeroReportPrinted: true,
    witnessesPresent: ['EG', 'NM'],
  }),
  voting: () => ({
    queueLength: 'long',
    waitingMinutes: 90,
    assistedVotingProblems: false,
    identificationProblems: true,
    securityForces: 'appropriate',
    propagandaNearby: false,
  }),
  closing: () => ({ closedAt: '18:05', votersInLineAllowed: true }),
  results: () => ({
    registeredVoters: 760,
    validVotes: 500,
    nullVotes: 10,
    votes: { EG: 300, NM: 190, LM: 10 },
    citizenAudit: true,
  }),
  incident: () => ({
    category: 'intimidation',
    severity: 'medium',
    description: 'Men in uniform ask voters whom they vote for',
  }),
};
export type FactoryKind = keyof typeof answersOf;

const observedAtOf: Record<FactoryKind, string> = {
  arrival: '2024-07-28T09:30:00Z',
  opening: '2024-07-28T10:10:00Z',
  voting: '2024-07-28T10:00:00Z',
  closing: '2024-07-28T22:05:00Z',
  results: '2024-07-28T22:15:00-04:00',
  incident: '2024-07-28T15:00:00Z',
};

/**
 * A new report's body of `kind` (a fresh id, centre 010101001, table 1 for results), with `answers`
 * merged into the kind's default answers and `fields` over the rest.
 */
export function reportPayload(
  kind: FactoryKind,
  answers: Record<string, unknown> = {},
  fields: Record<string, unknown> = {},
) {
  return {
    id: randomUUID(),
    kind,
    centreCode: '010101001',
    ...(kind === 'results' ? { table: 1 } : {}),
    observedAt: observedAtOf[kind],
    answers: { ...answersOf[kind](), ...answers } as Record<string, unknown>,
    ...fields,
  };
}

/** POST /v1/reports of a `kind` report as `actor` (see reportPayload); answers the stored report. */
export async function createReport(
  app: FastifyInstance,
  actor: TestActor,
  kind: FactoryKind,
  answers: Record<string, unknown> = {},
  fields: Record<string, unknown> = {},
) {
  const payload = reportPayload(kind, answers, fields);
  const response = await as(app, actor)({ method: 'POST', url: '/v1/reports', payload });
  if (response.statusCode !== 201) throw new Error(`report: ${response.statusCode} ${response.body}`);
  return response.json() as { id: string; flags: string[]; [field: string]: unknown };
}

export interface MultipartPart {
  name: string;
  filename?: string;
  type?: string;
  content: Buffer | string;
}

/** A multipart/form-data body of `parts`, in order. */
export function multipartForm(parts: MultipartPart[]): { body: Buffer; contentType: string } {
  const boundary = `----testigo${randomUUID()}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const filename = part.filename !== undefined ? `; filename="${part.filename}"` : '';
    const type = part.type ? `Content-Type: ${part.type}\r\n` : '';
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}\r\n${type}\r\n`),
    );
    chunks.push(Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The multipart body of a photo upload: `file` as the `file` part (image/jpeg), after the `fields` parts. */
export function photoForm(file: Buffer, fields: { name: string; content: string }[] = [], filename = 'photo.jpg') {
  return multipartForm([...fields, { name: 'file', filename, type: 'image/jpeg', content: file }]);
}
