// Forms as a mission uses them: an admin designs a 10-question checklist, phones fetch its JSON Schema and
// validate offline, observers in two states report, every bad answer is refused at its path; version 2 is
// published, version 1 retired; built-in forms keep what summaries read; two app processes share one catalogue.
import { randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { reportPayload, seedRegistry, setElection } from '../helpers/factories.js';

const { app, db, admin } = await setupTestApp();
const asAdmin = as(app, admin);
let caracas: TestActor;
let lara: TestActor;
let coordinator: TestActor;

const t = (en: string, es: string) => ({ en, es });
/** The checklist: every question type, two `relevant` rules, a default. */
const checklist = {
  key: 'checklist',
  title: t('Polling station checklist', 'Lista de verificación del centro'),
  unit: 'centre',
  questions: [
    { key: 'queue', type: 'boolean', required: true, label: t('Is there a queue?', '¿Hay cola?') },
    {
      key: 'queueLength',
      type: 'single',
      required: true,
      label: t('How long?', '¿Qué tan larga?'),
      options: [
        { key: 'short', label: t('Short', 'Corta') },
        { key: 'long', label: t('Long', 'Larga') },
      ],
      relevant: { question: 'queue', equals: true },
    },
    {
      key: 'problems',
      type: 'multiple',
      label: t('Problems seen', 'Problemas observados'),
      options: [
        { key: 'violence', label: t('Violence', 'Violencia') },
        { key: 'intimidation', label: t('Intimidation', 'Intimidación') },
        { key: 'propaganda', label: 'Propaganda' },
      ],
    },
    {
      key: 'staff',
      type: 'integer',
      min: 0,
      max: 20,
      required: true,
      label: t('Table staff present', 'Miembros presentes'),
    },
    { key: 'openedAt', type: 'time', label: t('Opening time', 'Hora de apertura') },
    { key: 'comments', type: 'text', maxLength: 200, label: t('Comments', 'Comentarios') },
    { key: 'witnesses', type: 'boolean', default: false, label: t('Party witnesses present', 'Testigos presentes') },
    {
      key: 'witnessCount',
      type: 'integer',
      min: 1,
      max: 50,
      label: t('How many witnesses', 'Cuántos testigos'),
      relevant: { question: 'witnesses', equals: true },
    },
    {
      key: 'security',
      type: 'single',
      required: true,
      label: 'Security forces',
      options: [
        { key: 'absent', label: 'Absent' },
        { key: 'present', label: 'Present' },
      ],
    },
    { key: 'closedAt', type: 'time', label: t('Closing time', 'Hora de cierre') },
  ],
};
const goodAnswers = { queue: true, queueLength: 'long', problems: ['violence'], staff: 5, security: 'absent' };

const report = (actor: TestActor, answers: Record<string, unknown>, fields: Record<string, unknown> = {}) =>
  as(
    app,
    actor,
  )({
    method: 'POST',
    url: '/v1/reports',
    payload: {
      id: randomUUID(),
      kind: 'checklist',
      centreCode: '010101001',
      observedAt: '2024-07-28T12:00:00Z',
      answers,
      ...fields,
    },
  });

beforeAll(async () => {
  await seedRegistry(app, admin);
  await setElection(app, admin);
  caracas = await createActor(app, 'observer');
  lara = await createActor(app, 'observer');
  coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
  const assign = async (user: TestActor, centres: string[]) =>
    expect(
      (await asAdmin({ method: 'PUT', url: `/v1/users/${user.id}/assignments`, payload: { centres } })).statusCode,
    ).toBe(200);
  await assign(caracas, ['010101001', '010102001', '010102002']);
  await assign(lara, ['130101001', '130201001']);
  const created = await asAdmin({ method: 'POST', url: '/v1/forms', payload: checklist });
  expect(created.statusCode, created.body).toBe(201);
});

describe('POST /v1/forms', () => {
  it('creates version 1, normalised, with an audit row', async () => {
    const form = (await asAdmin('/v1/forms/checklist')).json();
    expect(form).toMatchObject({ key: 'checklist', kind: 'checklist', role: null, unit: 'centre', version: 1 });
    expect(form.questions[0]).toEqual({
      key: 'queue',
      type: 'boolean',
      required: true,
      label: { en: 'Is there a queue?', es: '¿Hay cola?' },
    });
    // A plain string is English; defaults are filled (text maxLength, required false).
    expect(form.questions[8].label).toEqual({ en: 'Security forces' });
    expect(form.questions[9]).toMatchObject({ required: false });
    const [stored] = await db.query<{ definition: { questions: { key: string }[] } }>(
      "SELECT definition FROM form_versions WHERE form_key = 'checklist' AND version = 1",
    );
    expect(stored!.definition.questions.map((question) => question.key)).toHaveLength(10);
    const audit = await db.query(
      "SELECT action, details FROM audit_entries WHERE entity_type = 'form' AND entity_id = 'checklist'",
    );
    expect(audit).toContainEqual(expect.objectContaining({ action: 'form.created' }));
  });

  it('is for admins only: 403 for coordinators and observers', async () => {
    for (const actor of [coordinator, caracas]) {
      const response = await as(
        app,
        actor,
      )({ method: 'POST', url: '/v1/forms', payload: { ...checklist, key: 'mine' } });
      expect(response.statusCode).toBe(403);
    }
    expect((await as(app, caracas)({ method: 'POST', url: '/v1/forms/checklist/versions/1/retire' })).statusCode).toBe(
      403,
    );
  });

  it('409 FORM_EXISTS for a key in use', async () => {
    const response = await asAdmin({ method: 'POST', url: '/v1/forms', payload: checklist });
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('FORM_EXISTS');
  });

  const questions = checklist.questions;
  it.each([
    ['a bad key', { ...checklist, key: 'Check-list' }, 'key'],
    ['no language', { ...checklist, key: 'x1', title: {} }, 'title'],
    [
      'an unknown type',
      { ...checklist, key: 'x2', questions: [{ key: 'a', type: 'photo', label: 'A' }] },
      'questions.0.type',
    ],
    [
      'repeated options',
      {
        ...checklist,
        key: 'x3',
        questions: [
          questions[0],
          questions[1],
          {
            ...questions[2],
            options: [
              { key: 'a', label: 'A' },
              { key: 'a', label: 'B' },
            ],
          },
        ],
      },
      'questions.2.options',
    ],
    [
      'a repeated question key',
      { ...checklist, key: 'x4', questions: [questions[0], questions[0]] },
      'questions.1.key',
    ],
    [
      'min above max',
      { ...checklist, key: 'x5', questions: [{ key: 'n', type: 'integer', min: 5, max: 1, label: 'N' }] },
      'questions.0.min',
    ],
    [
      'maxLength above 4000',
      { ...checklist, key: 'x6', questions: [{ key: 's', type: 'text', maxLength: 5000, label: 'S' }] },
      'questions.0.maxLength',
    ],
    [
      'a field of another type',
      { ...checklist, key: 'x7', questions: [{ key: 'b', type: 'boolean', options: [], label: 'B' }] },
      'questions.0',
    ],
    [
      'relevant on a later question',
      { ...checklist, key: 'x8', questions: [questions[1], questions[0]] },
      'questions.0.relevant.question',
    ],
    [
      'relevant equal to no answer of it',
      {
        ...checklist,
        key: 'x9',
        questions: [questions[0], { ...questions[1], relevant: { question: 'queue', equals: 'yes' } }],
      },
      'questions.1.relevant.equals',
    ],
    [
      'a default of the wrong type',
      { ...checklist, key: 'x10', questions: [{ key: 'b', type: 'boolean', default: 'no', label: 'B' }] },
      'questions.0.default',
    ],
    ['no questions', { ...checklist, key: 'x11', questions: [] }, 'questions'],
  ])('400 VALIDATION_FAILED for %s, at its path', async (_name, payload, path) => {
    const response = await asAdmin({ method: 'POST', url: '/v1/forms', payload });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().code).toBe('VALIDATION_FAILED');
    expect(response.json().errors.map((error: { path: string }) => error.path)).toContainEqual(
      expect.stringMatching(new RegExp(`^${path.replaceAll('.', '\\.')}`)),
    );
    const [{ n }] = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM forms WHERE key LIKE 'x%'")) as [
      { n: number },
    ];
    expect(n).toBe(0);
  });
});

describe('GET /v1/forms › offline validation', () => {
  it('serves the checklist with a JSON Schema that an offline validator agrees with the server on', async () => {
    const body = (await as(app, caracas)('/v1/forms?lang=es')).json();
    const form = body.items.find((item: { key: string }) => item.key === 'checklist');
    expect(form).toMatchObject({ kind: 'checklist', version: 1, title: 'Lista de verificación del centro' });
    expect(form.schema.properties.queueLength['x-labels']).toEqual({ en: 'How long?', es: '¿Qué tan larga?' });
    const validate = new Ajv2020({ strict: false }).compile(form.schema);
    const cases: [Record<string, unknown>, boolean][] = [
      [goodAnswers, true],
      [{ queue: false, staff: 3, security: 'present' }, true],
      [{ queue: false, staff: 3, security: 'present', witnesses: true, witnessCount: 2 }, true],
      [{ ...goodAnswers, unknown: 1 }, false],
      [{ ...goodAnswers, queue: 'yes' }, false],
      [{ ...goodAnswers, problems: ['fraud'] }, false],
      [{ ...goodAnswers, problems: ['violence', 'violence'] }, false],
      [{ ...goodAnswers, staff: 21 }, false],
      [{ ...goodAnswers, staff: 2.5 }, false],
      [{ ...goodAnswers, openedAt: '25:00' }, false],
      [{ ...goodAnswers, comments: 'x'.repeat(201) }, false],
      [{ queue: true, staff: 3, security: 'absent' }, false], // queueLength required when queue
      [{ queue: false, queueLength: 'long', staff: 3, security: 'absent' }, false], // not asked
      [{ ...goodAnswers, witnessCount: 3 }, false], // witnesses defaults to false: not asked
      [{ queue: false, security: 'absent' }, false],
    ];
    for (const [answers, ok] of cases) {
      expect(validate(answers), JSON.stringify(answers)).toBe(ok);
      const response = await report(caracas, answers);
      expect(response.statusCode, `${JSON.stringify(answers)}: ${response.body}`).toBe(ok ? 201 : 400);
    }
  });

  it('serves one version with an ETag (304 when unchanged)', async () => {
    const first = await asAdmin('/v1/forms/checklist/versions/1');
    expect(first.statusCode).toBe(200);
    const tag = first.headers.etag as string;
    expect(tag).toBeTruthy();
    expect(
      (await asAdmin({ url: '/v1/forms/checklist/versions/1', headers: { 'if-none-match': tag } })).statusCode,
    ).toBe(304);
    expect((await asAdmin('/v1/forms/checklist/versions/9')).statusCode).toBe(404);
    expect((await asAdmin('/v1/forms/nope')).statusCode).toBe(404);
  });
});

describe('POST /v1/reports against a form', () => {
  it.each([
    ['an unknown question', { ...goodAnswers, colour: 'red' }, 'answers'],
    ['a wrong type', { ...goodAnswers, staff: 'five' }, 'answers.staff'],
    ['an option not in the list', { ...goodAnswers, queueLength: 'huge' }, 'answers.queueLength'],
    ['an option of a multiple choice not in the list', { ...goodAnswers, problems: ['fraud'] }, 'answers.problems.0'],
    ['an integer out of range', { ...goodAnswers, staff: 21 }, 'answers.staff'],
    ['a missing required answer', { queue: false, security: 'absent' }, 'answers.staff'],
    ['a missing answer required when relevant', { queue: true, staff: 3, security: 'absent' }, 'answers.queueLength'],
    [
      'an answer to an irrelevant question',
      { queue: false, queueLength: 'long', staff: 3, security: 'absent' },
      'answers.queueLength',
    ],
    ['a bad time', { ...goodAnswers, closedAt: '7pm' }, 'answers.closedAt'],
    ['a text too long', { ...goodAnswers, comments: 'x'.repeat(201) }, 'answers.comments'],
    ['an empty text', { ...goodAnswers, comments: '   ' }, 'answers.comments'],
  ])('400 VALIDATION_FAILED for %s, at %s', async (_name, answers, path) => {
    const response = await report(caracas, answers);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(response.json().errors.map((error: { path: string }) => error.path)).toContain(path);
  });

  it('400 VALIDATION_FAILED at `kind` for a form that does not exist', async () => {
    const response = await report(caracas, goodAnswers, { kind: 'nosuchform' });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].path).toBe('kind');
    expect((await asAdmin('/v1/reports?kind=nosuchform')).statusCode).toBe(400);
  });

  it('stores the version, the defaults and trimmed texts; reads, lists and exports show it', async () => {
    const response = await report(caracas, { ...goodAnswers, comments: '  calm  ' }, { table: 1 });
    expect(response.statusCode, response.body).toBe(201);
    const stored = response.json();
    expect(stored).toMatchObject({ kind: 'checklist', formVersion: 1, table: 1 });
    expect(stored.answers).toEqual({ ...goodAnswers, comments: 'calm', witnesses: false });
    expect((await asAdmin(`/v1/reports/${stored.id}`)).json().formVersion).toBe(1);
    const list = (await asAdmin('/v1/reports?kind=checklist&limit=500')).json();
    expect(list.items.every((item: { kind: string }) => item.kind === 'checklist')).toBe(true);
    const csv = (await asAdmin('/v1/reports/export?format=csv&kind=checklist')).body;
    const [header, ...rows] = csv.trimEnd().split(/\r?\n/);
    const columns = header!.split(',');
    expect(columns).toEqual(
      expect.arrayContaining([
        'checklist.queue',
        'checklist.problems.violence',
        'checklist.problems.propaganda',
        'checklist.closedAt',
      ]),
    );
    expect(columns).not.toContain('checklist.problems');
    const row = rows.find((line) => line.startsWith(stored.id))!.split(',');
    expect(row[columns.indexOf('checklist.problems.violence')]).toBe('1');
    expect(row[columns.indexOf('checklist.problems.intimidation')]).toBe('0');
    expect(row[columns.indexOf('checklist.staff')]).toBe('5');
    expect(row[columns.indexOf('form_version')]).toBe('1');
  });

  it('takes 500 reports from observers in two states, some centres twice, in batches', async () => {
    const centres = { caracas: ['010101001', '010102001', '010102002'], lara: ['130101001', '130201001'] };
    const items = (actor: 'caracas' | 'lara', n: number) =>
      Array.from({ length: n }, (_, i) => ({
        id: randomUUID(),
        kind: 'checklist',
        centreCode: centres[actor][i % centres[actor].length],
        observedAt: new Date(Date.UTC(2024, 6, 28, 11, 0, i)).toISOString(),
        answers:
          i % 3 === 0
            ? { queue: false, staff: i % 21, security: 'present', witnesses: true, witnessCount: 1 + (i % 50) }
            : {
                queue: true,
                queueLength: i % 2 ? 'short' : 'long',
                problems: i % 5 ? [] : ['propaganda'],
                staff: i % 21,
                security: 'absent',
              },
      }));
    for (const [actor, name] of [
      [caracas, 'caracas'],
      [lara, 'lara'],
    ] as const) {
      const response = await as(
        app,
        actor,
      )({ method: 'POST', url: '/v1/reports/batch', payload: { reports: items(name, 250) } });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ created: 250, failed: 0 });
    }
    const [{ n }] = (await db.query<{ n: number }>(
      "SELECT count(DISTINCT state_code)::int AS states, count(*)::int AS n FROM reports WHERE kind = 'checklist' AND form_version = 1 AND observed_at >= '2024-07-28T11:00:00Z' AND observed_at < '2024-07-28T11:10:00Z'",
    )) as [{ n: number }];
    expect(n).toBe(500);
  });
});

describe('versions', () => {
  let storedV1: { id: string; payload: Record<string, unknown> };

  it('version 2 (one question added, one dropped): v1 reports are accepted until v1 is retired, then 422', async () => {
    const payload = {
      id: randomUUID(),
      kind: 'checklist',
      formVersion: 1,
      centreCode: '010101001',
      observedAt: '2024-07-28T13:00:00Z',
      answers: { ...goodAnswers, closedAt: '18:00' },
    };
    expect((await as(app, caracas)({ method: 'POST', url: '/v1/reports', payload })).statusCode).toBe(201);
    storedV1 = { id: payload.id, payload };

    const v2 = {
      ...checklist,
      questions: [
        ...checklist.questions.filter((question) => question.key !== 'closedAt'),
        { key: 'materials', type: 'boolean', required: true, label: t('Materials complete', 'Materiales completos') },
      ],
    };
    const published = await asAdmin({ method: 'POST', url: '/v1/forms/checklist/versions', payload: v2 });
    expect(published.statusCode, published.body).toBe(201);
    expect(published.json()).toMatchObject({
      version: 2,
      versions: [
        { version: 1, retired: false },
        { version: 2, retired: false },
      ],
    });

    // Without formVersion: the current one (2).
    const current = await report(caracas, { ...goodAnswers, materials: true });
    expect(current.statusCode, current.body).toBe(201);
    expect(current.json().formVersion).toBe(2);
    expect((await report(caracas, { ...goodAnswers, closedAt: '18:00', materials: true })).json().errors[0].path).toBe(
      'answers',
    );
    // A phone still showing v1.
    const queued = await report(caracas, { ...goodAnswers, closedAt: '18:00' }, { formVersion: 1 });
    expect(queued.statusCode).toBe(201);
    expect(queued.json().formVersion).toBe(1);
    expect((await report(caracas, { ...goodAnswers, materials: true }, { formVersion: 1 })).statusCode).toBe(400);

    const retired = await asAdmin({ method: 'POST', url: '/v1/forms/checklist/versions/1/retire' });
    expect(retired.statusCode).toBe(200);
    expect(retired.json()).toMatchObject({ version: 1, retired: true });
    // Idempotent: once more, the same answer and no second audit row.
    expect((await asAdmin({ method: 'POST', url: '/v1/forms/checklist/versions/1/retire' })).json().retired).toBe(true);
    const audit = await db.query(
      "SELECT action FROM audit_entries WHERE entity_type = 'form' AND entity_id = 'checklist' ORDER BY id",
    );
    expect(audit.map((row) => row.action)).toEqual(['form.created', 'form.published', 'form.retired']);

    const late = await report(caracas, { ...goodAnswers, closedAt: '18:00' }, { formVersion: 1 });
    expect(late.statusCode).toBe(422);
    expect(late.json().code).toBe('FORM_VERSION_RETIRED');
    const unknown = await report(caracas, goodAnswers, { formVersion: 7 });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().code).toBe('FORM_VERSION_UNKNOWN');
    expect((await asAdmin({ method: 'POST', url: '/v1/forms/checklist/versions/7/retire' })).statusCode).toBe(404);
  });

  it('a retry of a report stored under a retired version is still answered from the store, with or without formVersion', async () => {
    const again = await as(app, caracas)({ method: 'POST', url: '/v1/reports', payload: storedV1.payload });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toMatchObject({ id: storedV1.id, formVersion: 1 });
    const { formVersion: _dropped, ...withoutVersion } = storedV1.payload;
    const older = await as(app, caracas)({ method: 'POST', url: '/v1/reports', payload: withoutVersion });
    expect(older.statusCode, older.body).toBe(200);
  });

  it('a revision is validated against the report’s own version, retired or not', async () => {
    const revise = (answers: Record<string, unknown>) =>
      as(
        app,
        caracas,
      )({ method: 'POST', url: `/v1/reports/${storedV1.id}/revisions`, payload: { answers, reason: 'typo' } });
    expect((await revise({ ...goodAnswers, materials: true })).statusCode).toBe(400);
    const revised = await revise({ ...goodAnswers, closedAt: '18:30' });
    expect(revised.statusCode, revised.body).toBe(201);
    expect(revised.json()).toMatchObject({ formVersion: 1, revision: 2 });
  });

  it('422 FORM_UNIT_CHANGED for a version about another unit; 400 for another key', async () => {
    const unit = await asAdmin({
      method: 'POST',
      url: '/v1/forms/checklist/versions',
      payload: { ...checklist, unit: 'table' },
    });
    expect(unit.statusCode).toBe(422);
    expect(unit.json().code).toBe('FORM_UNIT_CHANGED');
    const key = await asAdmin({
      method: 'POST',
      url: '/v1/forms/checklist/versions',
      payload: { ...checklist, key: 'other' },
    });
    expect(key.statusCode).toBe(400);
    const { key: _key, ...keyless } = checklist;
    expect((await asAdmin({ method: 'POST', url: '/v1/forms/nope/versions', payload: keyless })).statusCode).toBe(404);
  });

  it('a published version is immutable in the database', async () => {
    await expect(
      db.query("UPDATE form_versions SET definition = '{}' WHERE form_key = 'checklist' AND version = 2"),
    ).rejects.toThrow(/immutable/);
    await expect(db.query("DELETE FROM form_versions WHERE form_key = 'checklist' AND version = 2")).rejects.toThrow(
      /immutable/,
    );
    await expect(
      db.query("UPDATE form_versions SET retired_at = NULL WHERE form_key = 'checklist' AND version = 1"),
    ).rejects.toThrow(/immutable/);
  });
});

describe('built-in forms with a role', () => {
  const opening = async () => (await asAdmin('/v1/forms/opening')).json();
  const publish = (key: string, payload: unknown) =>
    asAdmin({ method: 'POST', url: `/v1/forms/${key}/versions`, payload });
  const definitionOf = (form: { titles: unknown; unit: string; questions: unknown[] }) => ({
    title: form.titles,
    unit: form.unit,
    questions: form.questions,
  });

  it('422 FORM_ROLE_VIOLATION for an opening version without openedAt, naming it', async () => {
    const form = await opening();
    const response = await publish('opening', {
      ...definitionOf(form),
      questions: form.questions.filter((question: { key: string }) => question.key !== 'openedAt'),
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().code).toBe('FORM_ROLE_VIOLATION');
    expect(response.json().errors.map((error: { question: string }) => error.question)).toEqual(['openedAt']);
    expect(response.json().detail).toContain('openedAt');
  });

  it.each([
    [
      'openedAt retyped',
      'opening',
      (q: { key: string }) => (q.key === 'openedAt' ? { ...q, type: 'text' } : q),
      'openedAt',
    ],
    [
      'openedAt made optional',
      'opening',
      (q: { key: string }) => (q.key === 'openedAt' ? { ...q, required: false } : q),
      'openedAt',
    ],
    [
      'an incident category dropped',
      'incident',
      (q: { key: string; options?: { key: string }[] }) =>
        q.key === 'category' ? { ...q, options: q.options!.filter((option) => option.key !== 'vote_buying') } : q,
      'category',
    ],
    [
      'votes retyped',
      'results',
      (q: { key: string }) =>
        q.key === 'votes' ? { key: 'votes', type: 'integer', label: 'Votes', required: true } : q,
      'votes',
    ],
  ])('422 FORM_ROLE_VIOLATION for %s', async (_name, key, change, question) => {
    const form = (await asAdmin(`/v1/forms/${key}`)).json();
    const response = await publish(key, { ...definitionOf(form), questions: form.questions.map(change) });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json().errors.map((error: { question: string }) => error.question)).toEqual([question]);
  });

  it('a mission may add its own question to opening; the factory report is still accepted', async () => {
    const form = await opening();
    const response = await publish('opening', {
      ...definitionOf(form),
      questions: [
        ...form.questions,
        { key: 'ballotsSealed', type: 'boolean', label: t('Ballots sealed', 'Boletas selladas') },
      ],
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ version: 2, role: 'opening' });
    const stored = await as(app, caracas)({ method: 'POST', url: '/v1/reports', payload: reportPayload('opening') });
    expect(stored.statusCode).toBe(201);
    expect(stored.json().formVersion).toBe(2);
  });
});

describe('two app processes on one database', () => {
  it('a form published on one is used by the other at once; a retirement refuses there at once', async () => {
    const other = await setupTestApp({ databaseUrl: db.url });
    const there = (actor: TestActor) => as(other.app, actor);
    // The other process caches the catalogue.
    expect((await there(caracas)('/v1/forms')).json().items.map((form: { key: string }) => form.key)).toContain(
      'checklist',
    );
    const second = { ...checklist, key: 'second', questions: [checklist.questions[0]] };
    expect((await asAdmin({ method: 'POST', url: '/v1/forms', payload: second })).statusCode).toBe(201);
    const payload = (answers: Record<string, unknown>, fields: Record<string, unknown> = {}) => ({
      id: randomUUID(),
      kind: 'second',
      centreCode: '010101001',
      observedAt: '2024-07-28T12:00:00Z',
      answers,
      ...fields,
    });
    // Not in its cache yet (or already told): loaded from the database before being refused.
    const first = await there(caracas)({ method: 'POST', url: '/v1/reports', payload: payload({ queue: true }) });
    expect(first.statusCode, first.body).toBe(201);
    // Retired on this process: refused on the other at once (the insert reads the version itself).
    expect((await asAdmin({ method: 'POST', url: '/v1/forms/second/versions/1/retire' })).statusCode).toBe(200);
    const late = await there(caracas)({
      method: 'POST',
      url: '/v1/reports',
      payload: payload({ queue: true }, { formVersion: 1 }),
    });
    expect(late.statusCode).toBe(422);
    expect(late.json().code).toBe('FORM_VERSION_RETIRED');
    // A new version reaches the other process's cache through the notification: its default version moves.
    expect(
      (
        await asAdmin({
          method: 'POST',
          url: '/v1/forms/second/versions',
          payload: { ...second, questions: checklist.questions.slice(0, 1) },
        })
      ).statusCode,
    ).toBe(201);
    await expect.poll(async () => (await there(caracas)('/v1/forms/second')).json().version, { timeout: 5000 }).toBe(2);
    const next = await there(caracas)({ method: 'POST', url: '/v1/reports', payload: payload({ queue: false }) });
    expect(next.json().formVersion).toBe(2);
  });
});
