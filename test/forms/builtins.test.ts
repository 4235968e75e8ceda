// The built-in kinds as data: compiled from the definitions the migration stored, they parse every answer exactly
// as the static zod schemas did (same output, defaults and trimming — so the same content hashes — and the same
// errors at the same paths), and GET /v1/forms serves the JSON Schemas it served, annotations aside.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError, bodyValidationError } from '../../src/infra/errors.js';
import { forms as oldForms } from '../fixtures/forms-v1.js';
import { as } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';

const { app, admin } = await setupTestApp();
type Kind = keyof typeof oldForms;
const KINDS = Object.keys(oldForms) as Kind[];

const valid: Record<Kind, Record<string, unknown>> = {
  arrival: { accessGranted: false, deniedReason: '  The president of the table refused  ' },
  opening: {
    openedAt: '06:10',
    tableStaffComplete: true,
    zeroReportPrinted: false,
    witnessesPresent: ['EG', 'NM'],
    problems: 'late',
  },
  voting: {
    queueLength: 'long',
    waitingMinutes: 90,
    assistedVotingProblems: false,
    identificationProblems: true,
    securityForces: 'appropriate',
    propagandaNearby: false,
    comments: ' none ',
  },
  closing: { closedAt: '18:05', votersInLineAllowed: true, votersInLineAtClose: 12 },
  results: {
    registeredVoters: 760,
    validVotes: 500,
    nullVotes: 10,
    blankVotes: 3,
    votes: { EG: 300, NM: 190, LM: 10 },
    citizenAudit: true,
  },
  incident: { category: 'vote_buying', severity: 'critical', description: ' Money for votes ', ongoing: true },
};
/** Values every field is tried with: of every type, at and beyond every bound. */
const probes: unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  -1,
  1,
  1.5,
  1440,
  1441,
  1_000_000,
  1_000_001,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  '   ',
  ' x ',
  'x'.repeat(1000),
  'x'.repeat(1001),
  'x'.repeat(2001),
  'x'.repeat(4001),
  '06:10',
  '24:00',
  '6:10',
  'long',
  'none',
  'critical',
  'violence',
  'nope',
  [],
  ['EG'],
  ['bad code!'],
  Array.from({ length: 51 }, (_, i) => `P${i}`),
  {},
  { EG: 1 },
  { EG: -1 },
  { EG: 1.5 },
  { 'bad code!': 1 },
  { EG: 1_000_001 },
];

function variants(kind: Kind): Record<string, unknown>[] {
  const base = valid[kind];
  const out: Record<string, unknown>[] = [base, {}, { ...base, unknownQuestion: 1 }];
  for (const key of Object.keys(base)) {
    const { [key]: _dropped, ...without } = base;
    out.push(without);
    for (const probe of probes) out.push({ ...base, [key]: probe });
  }
  return out;
}

function oldOutcome(kind: Kind, answers: Record<string, unknown>) {
  const parsed = (oldForms[kind].schema as z.ZodType).safeParse(answers);
  return parsed.success
    ? { ok: parsed.data }
    : { errors: bodyValidationError(parsed.error.issues, ['answers']).extra.errors };
}
async function newOutcome(kind: Kind, answers: Record<string, unknown>) {
  const form = await app.services.forms.resolve(kind);
  try {
    return { ok: form.parse(answers) };
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { errors: error.extra.errors };
  }
}

describe('built-in forms compiled from the database', () => {
  it.each(KINDS)(
    '%s parses every answer as the static zod schema did (output, defaults, trimming, error paths)',
    async (kind) => {
      const cases = variants(kind);
      expect(cases.length).toBeGreaterThan(75);
      let accepted = 0;
      for (const answers of cases) {
        const expected = oldOutcome(kind, answers);
        const actual = await newOutcome(kind, answers);
        expect(actual, JSON.stringify(answers).slice(0, 200)).toEqual(expected);
        if (expected.ok) {
          accepted += 1;
          // The same keys in the same order (the content hash sorts keys anyway).
          expect(Object.keys(actual.ok!)).toEqual(Object.keys(expected.ok as object));
        }
      }
      expect(accepted).toBeGreaterThan(5);
    },
  );

  it('each built-in is version 1 of a form whose role is its key, with labels in English and Spanish', async () => {
    const body = (await as(app, admin)('/v1/forms?lang=es')).json();
    const builtins = body.items.filter((form: { role: string | null }) => form.role !== null);
    expect(builtins.map((form: { key: string; role: string }) => [form.key, form.role])).toEqual(
      KINDS.map((kind) => [kind, kind]),
    );
    for (const form of builtins) {
      expect(form).toMatchObject({ version: 1, versions: [{ version: 1, retired: false }] });
      expect(form.titles).toEqual({ en: expect.any(String), es: expect.any(String) });
      expect(form.title).toBe(form.titles.es);
      for (const question of form.questions) expect(Object.keys(question.label).sort()).toEqual(['en', 'es']);
    }
    expect(body.items.find((form: { key: string }) => form.key === 'results').unit).toBe('table');
    expect(body.items.find((form: { key: string }) => form.key === 'opening').unit).toBe('centre');
  });
});

/** The schema without the annotations this release adds (titles and x-labels): what validates. */
function validationKeywords(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(validationKeywords);
  if (schema && typeof schema === 'object') {
    return Object.fromEntries(
      Object.entries(schema)
        .filter(([key]) => key !== 'title' && !key.startsWith('x-'))
        .map(([key, value]) => [
          key,
          key === 'properties' ? mapValues(value, validationKeywords) : validationKeywords(value),
        ]),
    );
  }
  return schema;
}
const mapValues = (value: object, f: (v: unknown) => unknown) =>
  Object.fromEntries(Object.entries(value).map(([key, child]) => [key, f(child)]));

describe('GET /v1/forms › the built-in JSON Schemas', () => {
  it.each(KINDS)('%s: what z.toJSONSchema gave for the static schema, plus titles and labels', async (kind) => {
    const body = (await as(app, admin)('/v1/forms')).json();
    const form = body.items.find((item: { kind: string }) => item.kind === kind);
    expect(form.title).toBe(oldForms[kind].title);
    expect(form.schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(validationKeywords(form.schema)).toEqual(z.toJSONSchema(oldForms[kind].schema, { io: 'input' }));
    expect(form.schema['x-labels']).toMatchObject({ en: oldForms[kind].title });
  });

  it('titles and descriptions follow ?lang= and Accept-Language (English by default)', async () => {
    const opening = async (headers: Record<string, string>, query = '') =>
      (await as(app, admin)({ url: `/v1/forms/opening${query}`, headers })).json();
    expect((await opening({})).schema.properties.openedAt).toMatchObject({
      title: 'Opening time',
      description: 'Local time the voting started',
    });
    expect((await opening({ 'accept-language': 'es-VE,es;q=0.9,en;q=0.5' })).title).toBe(
      'Apertura de la mesa o del centro',
    );
    expect((await opening({ 'accept-language': 'fr, en;q=0.1' })).title).toBe('Opening of the table or centre');
    const spanish = await opening({ 'accept-language': 'en' }, '?lang=es');
    expect(spanish.schema.properties.openedAt.description).toBe('Hora local en que comenzó la votación');
    expect(spanish.schema.properties.openedAt['x-labels']).toEqual({ en: 'Opening time', es: 'Hora de apertura' });
  });
});
