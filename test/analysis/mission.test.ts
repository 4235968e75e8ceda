// The mission, through the API: an admin creates a 10-question checklist (every type, a `relevant` rule),
// observers in two states post 500 reports (every centre many times), and the state and national analysis
// equal a count made here from the posted answers (each centre's latest report by observedAt), exactly.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { seedRegistry, setElection } from '../helpers/factories.js';
import { expectAnalysisMatchesRecount } from './recount.js';

const { app, db, admin } = await setupTestApp({ env: { RATE_LIMIT_PER_TOKEN: '0' } });
const t = (en: string) => ({ en, es: en });
const checklist = {
  key: 'mission',
  title: t('Mission checklist'),
  unit: 'centre',
  questions: [
    { key: 'queue', type: 'boolean', required: true, label: t('Queue?') },
    {
      key: 'queueLength',
      type: 'single',
      label: t('How long?'),
      options: [
        { key: 'short', label: t('Short') },
        { key: 'long', label: t('Long') },
      ],
      relevant: { question: 'queue', equals: true },
    },
    {
      key: 'problems',
      type: 'multiple',
      label: t('Problems'),
      options: ['violence', 'intimidation', 'propaganda'].map((key) => ({ key, label: t(key) })),
    },
    { key: 'staff', type: 'integer', min: 0, max: 20, label: t('Staff') },
    { key: 'openedAt', type: 'time', label: t('Opened at') },
    { key: 'comments', type: 'text', maxLength: 200, label: t('Comments') },
    { key: 'witnesses', type: 'boolean', label: t('Witnesses') },
    { key: 'voters', type: 'integer', min: 0, max: 2000, label: t('Voters in line') },
    {
      key: 'security',
      type: 'single',
      label: t('Security'),
      options: [
        { key: 'absent', label: t('Absent') },
        { key: 'present', label: t('Present') },
      ],
    },
    { key: 'closedAt', type: 'time', label: t('Closed at') },
  ],
};
const STATES: Record<string, string> = {
  '010101001': '01',
  '010102001': '01',
  '010102002': '01',
  '130101001': '13',
  '130201001': '13',
};

let seed = 11;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;

function answers(): Record<string, unknown> {
  const queue = random() < 0.5;
  const out: Record<string, unknown> = { queue };
  if (queue && random() < 0.8) out.queueLength = pick(['short', 'long']);
  if (random() < 0.7) out.problems = ['violence', 'intimidation', 'propaganda'].filter(() => random() < 0.4);
  if (random() < 0.9) out.staff = Math.floor(random() * 21);
  if (random() < 0.9)
    out.openedAt = `0${6 + Math.floor(random() * 3)}:${String(Math.floor(random() * 60)).padStart(2, '0')}`;
  if (random() < 0.3) out.comments = 'calm';
  if (random() < 0.8) out.witnesses = random() < 0.6;
  if (random() < 0.8) out.voters = Math.floor(random() * 300);
  if (random() < 0.9) out.security = pick(['absent', 'present']);
  if (random() < 0.5) out.closedAt = `18:${String(Math.floor(random() * 60)).padStart(2, '0')}`;
  return out;
}

/** The expected row of the centres `answered` (each centre's counted answers), computed from the posted answers. */
function expected(units: Record<string, unknown>[]) {
  const reporting = units.length;
  const given = (key: string) => units.filter((a) => key in a).map((a) => a[key]);
  const bool = (key: string) => {
    const yes = given(key).filter((v) => v === true).length;
    const no = given(key).filter((v) => v === false).length;
    return { type: 'boolean', yes, no, unanswered: reporting - yes - no };
  };
  const single = (key: string, options: string[]) => ({
    type: 'single',
    counts: Object.fromEntries(options.map((o) => [o, given(key).filter((v) => v === o).length])),
    unanswered: reporting - given(key).length,
  });
  const integer = (key: string) => {
    const values = (given(key) as number[]).sort((a, b) => a - b);
    const n = values.length;
    return {
      type: 'integer',
      answered: n,
      sum: values.reduce((s, v) => s + v, 0),
      min: values[0] ?? null,
      max: values.at(-1) ?? null,
      median: n === 0 ? null : n % 2 ? values[(n - 1) / 2] : (values[n / 2 - 1]! + values[n / 2]!) / 2,
    };
  };
  const time = (key: string) => {
    const values = (given(key) as string[]).sort();
    return {
      type: 'time',
      answered: values.length,
      median: values[Math.floor((values.length - 1) / 2)] ?? null,
      earliest: values[0] ?? null,
      latest: values.at(-1) ?? null,
    };
  };
  const chosen = given('problems') as string[][];
  return {
    units: { reporting },
    questions: {
      queue: bool('queue'),
      queueLength: single('queueLength', ['short', 'long']),
      problems: {
        type: 'multiple',
        counts: Object.fromEntries(
          ['violence', 'intimidation', 'propaganda'].map((o) => [o, chosen.filter((list) => list.includes(o)).length]),
        ),
        unanswered: reporting - chosen.length,
      },
      staff: integer('staff'),
      openedAt: time('openedAt'),
      comments: { type: 'text', answered: given('comments').length },
      witnesses: bool('witnesses'),
      voters: integer('voters'),
      security: single('security', ['absent', 'present']),
      closedAt: time('closedAt'),
    },
  };
}

let caracas: TestActor;
let miranda: TestActor;

beforeAll(async () => {
  await seedRegistry(app, admin);
  await setElection(app, admin);
  caracas = await createActor(app, 'observer');
  miranda = await createActor(app, 'observer');
  for (const [user, centres] of [
    [caracas, ['010101001', '010102001', '010102002']],
    [miranda, ['130101001', '130201001']],
  ] as const) {
    const response = await as(
      app,
      admin,
    )({ method: 'PUT', url: `/v1/users/${user.id}/assignments`, payload: { centres } });
    expect(response.statusCode).toBe(200);
  }
});

describe('the mission scenario', () => {
  it('state and national analysis equal a count from the 500 posted answers', { timeout: 120_000 }, async () => {
    const created = await as(app, admin)({ method: 'POST', url: '/v1/forms', payload: checklist });
    expect(created.statusCode, created.body).toBe(201);

    const latest = new Map<string, { at: number; answers: Record<string, unknown> }>();
    const posts = Array.from({ length: 500 }, (_, i) => {
      const centre = pick(Object.keys(STATES));
      // Distinct observation times in random order: the latest observed, not the last posted, counts.
      const at = Date.UTC(2024, 6, 28, 10) + Math.floor(random() * 36_000) * 1000 + i;
      return { centre, at, answers: answers() };
    });
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < posts.length) {
          const post = posts[next++]!;
          const response = await as(
            app,
            STATES[post.centre] === '01' ? caracas : miranda,
          )({
            method: 'POST',
            url: '/v1/reports',
            payload: {
              id: randomUUID(),
              kind: 'mission',
              centreCode: post.centre,
              observedAt: new Date(post.at).toISOString(),
              answers: post.answers,
            },
          });
          expect(response.statusCode, response.body).toBe(201);
          const known = latest.get(post.centre);
          if (!known || known.at < post.at) latest.set(post.centre, { at: post.at, answers: post.answers });
        }
      }),
    );

    const get = async (url: string) => {
      const response = await as(app, admin)(url);
      expect(response.statusCode, response.body).toBe(200);
      return response.json();
    };
    const national = await get('/v1/analysis/national?kind=mission');
    expect(national.version).toBe(1);
    expect(national.rows[0]).toMatchObject(expected([...latest.values()].map((unit) => unit.answers)));
    expect(national.rows[0].units.total).toBe(5);
    const states = await get('/v1/analysis?kind=mission&level=state');
    for (const code of ['01', '13']) {
      const row = states.rows.find((r: { code: string }) => r.code === code);
      const units = [...latest].filter(([centre]) => STATES[centre] === code).map(([, unit]) => unit.answers);
      expect(row, code).toMatchObject(expected(units));
    }
    // And the recount over the stored reports agrees at every level.
    await expectAnalysisMatchesRecount(db, 'mission', async (level) =>
      get(level === 'national' ? '/v1/analysis/national?kind=mission' : `/v1/analysis?kind=mission&level=${level}`),
    );
  });

  it('counts the built-in forms too (voting, as the phones post it today)', async () => {
    const response = await as(
      app,
      caracas,
    )({
      method: 'POST',
      url: '/v1/reports',
      payload: {
        id: randomUUID(),
        kind: 'voting',
        centreCode: '010101001',
        observedAt: '2024-07-28T12:00:00Z',
        answers: {
          queueLength: 'long',
          waitingMinutes: 90,
          assistedVotingProblems: false,
          identificationProblems: true,
          securityForces: 'appropriate',
          propagandaNearby: false,
        },
      },
    });
    expect(response.statusCode, response.body).toBe(201);
    const national = (await as(app, admin)('/v1/analysis/national?kind=voting')).json();
    expect(national.rows[0].units.reporting).toBe(1);
    expect(national.rows[0].questions.waitingMinutes).toMatchObject({ type: 'integer', answered: 1, sum: 90 });
  });
});
