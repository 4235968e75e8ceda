// Detection: `npm run cli -- log:verify` (spawned) and GET /v1/log/audit catch a row changed by SQL behind the
// API's back (triggers disabled), a deleted row and a rewritten leaf, naming the report and the log index.
import { describe, expect, it } from 'vitest';
import { as, createActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { reportPayload, seedRegistry, setElection } from '../helpers/factories.js';
import { jpeg, multipart } from '../helpers/photo-upload.js';
import { ROOT, run, TEST_LOG_SIGNING_KEY } from '../helpers/server-process.js';

const { app, admin, db, config } = await setupTestApp({ env: { LOG_MERGE_DELAY_MS: '400' } });
await seedRegistry(app, admin);
await setElection(app, admin);
const reviewer = await createActor(app, 'admin', { name: 'Reviewer' });
const post = as(app, admin);

const verify = () =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'log:verify'], {
    cwd: ROOT,
    timeoutMs: 120_000,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: db.url,
      DATA_DIR: config.DATA_DIR,
      LOG_SIGNING_KEY: TEST_LOG_SIGNING_KEY,
      LOG_LEVEL: 'warn',
    },
  });
const audit = async () => {
  const response = await post('/v1/log/audit');
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as { ok: boolean; problems: { problem: string; reportId: string; index: number }[] };
};
const indexOf = async (receipt: { leafHash: string }) =>
  (await post(`/v1/log/proof/inclusion?leafHash=${encodeURIComponent(receipt.leafHash)}`)).json().index as number;
/** Runs SQL with every trigger off (session_replication_role = replica), as someone with the database would. */
const behindTheBack = (sql: string) => db.query(`BEGIN; SET LOCAL session_replication_role = replica; ${sql}; COMMIT;`);

async function accepted() {
  const changed = await post({ method: 'POST', url: '/v1/reports', payload: reportPayload('arrival') });
  const content = await post({ method: 'POST', url: '/v1/reports', payload: reportPayload('voting') });
  const revised = await post({
    method: 'POST',
    url: `/v1/reports/${content.json().id}/revisions`,
    payload: { answers: { ...reportPayload('voting').answers, waitingMinutes: 5 }, reason: 'fix' },
  });
  const reviewed = await as(
    app,
    reviewer,
  )({
    method: 'POST',
    url: `/v1/reports/${changed.json().id}/review`,
    payload: { state: 'verified' },
  });
  const photo = multipart(await jpeg(7));
  const uploaded = await post({
    method: 'POST',
    url: `/v1/reports/${content.json().id}/photos`,
    headers: { 'content-type': photo.contentType },
    body: photo.body,
  });
  for (const response of [changed, content, revised, reviewed, uploaded])
    expect(response.statusCode, response.body).toBeLessThan(300);
  await app.services.log.integrateAll();
  return { changed, content, revised, reviewed, uploaded };
}

describe('log:verify and GET /v1/log/audit', () => {
  it('find nothing wrong in an honest log, then name each report and index changed, deleted or rewritten', async () => {
    const { changed, content, revised, reviewed, uploaded } = await accepted();
    const honest = await verify();
    expect(honest.code, honest.stdout + honest.stderr).toBe(0);
    expect(honest.stdout).toMatch(/^log verified: \d+ entries, \d+ rows, \d+ checkpoints; size \d+, root \S+/m);
    expect((await audit()).ok).toBe(true);

    const changedId = changed.json().id as string;
    const contentId = content.json().id as string;
    const reportIndex = await indexOf(changed.json().receipt);
    const revisionIndex = await indexOf(revised.json().receipt);
    const reviewIndex = await indexOf(reviewed.json().receipt);
    const photoIndex = await indexOf(uploaded.json().receipt);
    // A report's answers and its centre changed, a revision's content changed (its hash kept), a photo deleted.
    await behindTheBack(`
      UPDATE reports SET answers = '{"accessGranted": false}' WHERE id = '${changedId}';
      UPDATE report_reviews SET state = 'rejected' WHERE report_id = '${changedId}';
      UPDATE report_revisions SET answers = answers || '{"waitingMinutes": 500}' WHERE report_id = '${contentId}' AND number = 2;
      DELETE FROM photos WHERE id = '${uploaded.json().id}'`);

    const caught = await verify();
    expect(caught.code, caught.stdout + caught.stderr).toBe(1);
    const lines = caught.stdout.split('\n');
    const line = (problem: string, report: string, index: number) =>
      lines.find((l) => l.startsWith(`${problem}: report ${report}, log index ${index}`));
    expect(line('changed', changedId, reviewIndex), caught.stdout).toMatch(/state/);
    expect(line('changed', contentId, revisionIndex), caught.stdout).toMatch(/content hash/);
    expect(line('deleted', contentId, photoIndex), caught.stdout).toBeDefined();
    expect(caught.stdout).toMatch(
      new RegExp(`changed: report ${changedId}, .*differs from its latest revision: answers`),
    );
    expect(caught.stdout).toMatch(/log:verify found \d+ problem/);
    expect(reportIndex).toBeGreaterThanOrEqual(0);

    const found = await audit();
    expect(found.ok).toBe(false);
    expect(found.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ problem: 'changed', reportId: changedId, index: reviewIndex }),
        expect.objectContaining({ problem: 'changed', reportId: contentId, index: revisionIndex }),
        expect.objectContaining({ problem: 'deleted', reportId: contentId, index: photoIndex }),
      ]),
    );
  }, 180_000);

  it('a leaf rewritten in the log, or a row never logged, is reported', async () => {
    const { changed } = await accepted();
    const index = await indexOf(changed.json().receipt);
    await behindTheBack(`
      UPDATE log_leaves SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"v":1', '"v":2'), 'UTF8')
      WHERE idx = ${index};
      INSERT INTO report_reviews (report_id, state, note, reviewer_id, revision)
      VALUES ('${changed.json().id}', 'flagged', NULL, '${reviewer.id}', 1)`);
    const caught = await verify();
    expect(caught.code).toBe(1);
    expect(caught.stdout).toContain(`log rewritten: report ${changed.json().id}, log index ${index}`);
    expect(caught.stdout).toMatch(
      new RegExp(`missing from the log: report ${changed.json().id}, no log index \\(review\\)`),
    );
    const found = await audit();
    expect(found.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ problem: 'log rewritten', index })]),
    );
  }, 180_000);

  it('a row changed between its receipt and its integration is logged as it is stored, not as the receipt said', async () => {
    // The integrator reuses the entries of the receipts it gave only when the queued row's facts are the receipt's.
    await app.services.log.stopIntegrator();
    try {
      const honest = await post({ method: 'POST', url: '/v1/reports', payload: reportPayload('arrival') });
      const changed = await post({ method: 'POST', url: '/v1/reports', payload: reportPayload('arrival') });
      expect(honest.statusCode, honest.body).toBe(201);
      expect(changed.statusCode, changed.body).toBe(201);
      await behindTheBack(`
        UPDATE report_revisions SET content_hash = repeat('0', 64) WHERE report_id = '${changed.json().id}' AND number = 1`);
      await app.services.log.integrateAll();
      const rows = await db.query<{ reportId: string; entry: string }>(
        `SELECT report_id::text AS "reportId", convert_from(entry, 'UTF8') AS entry FROM log_leaves WHERE report_id = ANY ($1::uuid[])`,
        [[honest.json().id, changed.json().id]],
      );
      const entryOf = (id: string) => rows.find((row) => row.reportId === id)?.entry;
      expect(entryOf(honest.json().id)).toBe(Buffer.from(honest.json().receipt.entry, 'base64').toString('utf8'));
      expect(JSON.parse(entryOf(changed.json().id) ?? '{}').contentHash).toBe('0'.repeat(64));
      const missing = await post(
        `/v1/log/proof/inclusion?leafHash=${encodeURIComponent(changed.json().receipt.leafHash)}`,
      );
      expect(missing.statusCode).toBe(404);
    } finally {
      app.services.log.startIntegrator();
    }
  }, 60_000);
});
