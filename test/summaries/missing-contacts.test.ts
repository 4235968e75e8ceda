// Issue 10, point 5: the missing-centres list shows an observer's phone and email only to callers who may
// read that observer as a user (GET /v1/users/{id}); names stay.
import { beforeAll, describe, expect, it } from 'vitest';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { seedRegistry } from '../helpers/factories.js';

const { app, admin } = await setupTestApp();
let coordinator: TestActor;
let analyst: TestActor;
let national: { id: string };
let local: { id: string };

async function observer(body: Record<string, unknown>): Promise<{ id: string }> {
  const response = await as(
    app,
    admin,
  )({ method: 'POST', url: '/v1/users', payload: { role: 'observer', centres: ['010102002'], ...body } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

beforeAll(async () => {
  await seedRegistry(app, admin);
  coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
  analyst = await createActor(app, 'analyst');
  // Both assigned to a centre in the coordinator's region; only the second is scoped there.
  national = await observer({ name: 'A national observer', phone: '+58 412 5550001', email: 'national@example.org' });
  local = await observer({
    name: 'B local observer',
    scopeRegion: '0101',
    phone: '+58 412 5550002',
    email: 'local@example.org',
  });
});

const observersOf = async (actor: TestActor) => {
  const response = await as(app, actor)('/v1/summaries/missing?kind=opening&region=010102');
  expect(response.statusCode, response.body).toBe(200);
  return response.json().items.find((centre: { code: string }) => centre.code === '010102002').observers;
};

describe('GET /v1/summaries/missing › contacts only of users the caller may read', () => {
  it('a coordinator sees the contacts of its observers, and only the name of a national observer assigned in its region', async () => {
    expect((await as(app, coordinator)(`/v1/users/${national.id}`)).statusCode).toBe(404);
    expect(await observersOf(coordinator)).toEqual([
      { id: national.id, name: 'A national observer', phone: null, email: null },
      { id: local.id, name: 'B local observer', phone: '+58 412 5550002', email: 'local@example.org' },
    ]);
  });

  it('an admin sees every contact; an analyst none, names still shown', async () => {
    expect((await observersOf(admin)).map((o: { phone: string | null }) => o.phone)).toEqual([
      '+58 412 5550001',
      '+58 412 5550002',
    ]);
    expect(await observersOf(analyst)).toEqual([
      { id: national.id, name: 'A national observer', phone: null, email: null },
      { id: local.id, name: 'B local observer', phone: null, email: null },
    ]);
  });
});
