// Validation of a report's answers: the static zod schemas of the built-in kinds (before forms became data:
// test/fixtures/forms-v1.ts), the zod schemas compiled at run time from the definitions the migration stored
// (what the API uses), and ajv compiled from the JSON Schema GET /v1/forms serves; and a 10-question checklist
// with `relevant` rules. µs per validation of a valid answer set, in process.
//   npm run bench -- forms
import { Ajv2020 } from 'ajv/dist/2020.js';
import pg from 'pg';
import type { z } from 'zod';
import { compileAnswers, jsonSchemaOf, normaliseDefinition } from '../src/features/forms/forms.definition.js';
import { type FormDefinition, formDefinitionInput } from '../src/features/forms/forms.schemas.js';
import { migrate } from '../src/infra/db/migrator.js';
import { forms as staticForms } from '../test/fixtures/forms-v1.js';
import { dropDatabases, freshDatabase, type Row, report } from './lib.js';

const ITERATIONS = 20_000;

const answers: Record<string, Record<string, unknown>> = {
  arrival: { accessGranted: false, deniedReason: 'The president of the table refused' },
  opening: { openedAt: '06:10', tableStaffComplete: true, zeroReportPrinted: true, witnessesPresent: ['EG', 'NM'] },
  voting: {
    queueLength: 'long',
    waitingMinutes: 90,
    assistedVotingProblems: false,
    identificationProblems: true,
    securityForces: 'appropriate',
    propagandaNearby: false,
  },
  closing: { closedAt: '18:05', votersInLineAllowed: true },
  results: {
    registeredVoters: 760,
    validVotes: 500,
    nullVotes: 10,
    votes: { EG: 300, NM: 190, LM: 10 },
    citizenAudit: true,
  },
  incident: {
    category: 'intimidation',
    severity: 'medium',
    description: 'Men in uniform ask voters whom they vote for',
  },
  checklist: {
    queue: true,
    queueLength: 'long',
    problems: ['violence'],
    staff: 5,
    openedAt: '06:30',
    witnesses: true,
    witnessCount: 2,
    security: 'absent',
    comments: 'calm',
  },
};

const option = (key: string) => ({ key, label: key });
const checklist = normaliseDefinition(
  formDefinitionInput.parse({
    key: 'checklist',
    title: 'Checklist',
    unit: 'centre',
    questions: [
      { key: 'queue', type: 'boolean', required: true, label: 'Queue?' },
      {
        key: 'queueLength',
        type: 'single',
        required: true,
        label: 'How long?',
        options: [option('short'), option('long')],
        relevant: { question: 'queue', equals: true },
      },
      {
        key: 'problems',
        type: 'multiple',
        label: 'Problems',
        options: [option('violence'), option('intimidation'), option('propaganda')],
      },
      { key: 'staff', type: 'integer', min: 0, max: 20, required: true, label: 'Staff' },
      { key: 'openedAt', type: 'time', label: 'Opened at' },
      { key: 'comments', type: 'text', maxLength: 200, label: 'Comments' },
      { key: 'witnesses', type: 'boolean', default: false, label: 'Witnesses' },
      {
        key: 'witnessCount',
        type: 'integer',
        min: 1,
        max: 50,
        label: 'How many',
        relevant: { question: 'witnesses', equals: true },
      },
      {
        key: 'security',
        type: 'single',
        required: true,
        label: 'Security',
        options: [option('absent'), option('present')],
      },
      { key: 'closedAt', type: 'time', label: 'Closed at' },
    ],
  }),
).definition!;

/** µs per call of `run` (after a warm-up), the median of five rounds. */
function timed(run: () => unknown): number {
  for (let i = 0; i < 2000; i += 1) run();
  const rounds: number[] = [];
  for (let round = 0; round < 5; round += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS / 5; i += 1) run();
    rounds.push(Number(process.hrtime.bigint() - start) / 1000 / (ITERATIONS / 5));
  }
  return rounds.sort((a, b) => a - b)[2]!;
}

export async function formsBench(): Promise<void> {
  const url = await freshDatabase('forms');
  let stored: { form_key: string; definition: FormDefinition }[];
  try {
    await migrate(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    stored = (await client.query('SELECT form_key, definition FROM form_versions ORDER BY form_key')).rows;
    await client.end();
  } finally {
    await dropDatabases();
  }
  const definitions = new Map(stored.map((row) => [row.form_key, row.definition]));
  definitions.set('checklist', checklist);
  const ajv = new Ajv2020({ strict: false });
  const rows: Row[] = [];
  for (const [kind, definition] of [...definitions].sort(([a], [b]) =>
    a === 'checklist' ? 1 : b === 'checklist' ? -1 : a.localeCompare(b),
  )) {
    const input = answers[kind]!;
    const compiled = compileAnswers(definition);
    const validate = ajv.compile(jsonSchemaOf(definition, 'en'));
    const old = (staticForms as Record<string, { schema: z.ZodType }>)[kind]?.schema;
    if (!compiled.safeParse(input).success || !validate(structuredClone(input)))
      throw new Error(`${kind}: answers refused`);
    const compileUs = timed(() => compileAnswers(definition));
    rows.push({
      form: kind,
      'static zod µs': old ? timed(() => old.safeParse(input)) : '-',
      'compiled zod µs': timed(() => compiled.safeParse(input)),
      'ajv µs': timed(() => validate(input)),
      'compile once µs': compileUs,
    });
  }
  await report('forms', `Answer validation, µs per report (${ITERATIONS.toLocaleString('en-US')} runs each)`, rows, [
    'static zod: the six schemas of src/features/reports/forms.ts before issue 12 (the baseline);',
    'compiled zod: built at run time from the stored definition (what the API runs, cached per version);',
    'ajv: the JSON Schema GET /v1/forms serves (validation only: no trimming, no defaults — the stored answers',
    'would still need a second pass, and its error paths differ from the zod ones clients get today).',
  ]);
}
