// The test factories build what the API accepts: a report of each kind from its defaults, on the sample
// registry and the default election; a photo form the upload route takes.
import { describe, expect, it } from 'vitest';
import { REPORT_KINDS } from '../../src/features/reports/forms.js';
import { as } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import {
  createReport,
  photoForm,
  registryWithTables,
  reportPayload,
  seedRegistry,
  setElection,
} from '../helpers/factories.js';
import { jpeg } from '../helpers/photo-upload.js';

const { app, db, admin } = await setupTestApp();
await seedRegistry(app, admin, registryWithTables(3, ['010101001', '130101001']));
await setElection(app, admin);

describe('test factories', () => {
  it.each(REPORT_KINDS)('POST /v1/reports › 201 for the factory report of kind %s, unflagged', async (kind) => {
    const report = await createReport(app, admin, kind);
    expect(report).toMatchObject({ kind, centreCode: '010101001', flags: [] });
  });

  it('registryWithTables adds numbered tables of 700 voters to each centre named', async () => {
    const rows = await db.query<{ centre_code: string; number: number; registered_voters: number }>(
      'SELECT centre_code, number, registered_voters FROM polling_tables WHERE number > 100 ORDER BY 1, 2',
    );
    expect(rows.map((row) => `${row.centre_code}/${row.number}/${row.registered_voters}`)).toEqual([
      '010101001/101/700',
      '010101001/102/700',
      '010101001/103/700',
      '130101001/101/700',
      '130101001/102/700',
      '130101001/103/700',
    ]);
  });

  it('reportPayload merges answers into the defaults and fields over the rest', () => {
    const payload = reportPayload('results', { validVotes: 1 }, { table: 2, notes: 'n' });
    expect(payload).toMatchObject({
      kind: 'results',
      table: 2,
      notes: 'n',
      answers: { validVotes: 1, registeredVoters: 760 },
    });
    expect(reportPayload('voting')).not.toHaveProperty('table');
  });

  it('POST /v1/reports/{id}/photos › 201 for the factory photo form', async () => {
    const report = await createReport(app, admin, 'results', {}, { table: 101 });
    const form = photoForm(await jpeg(77), [{ name: 'caption', content: 'Acta' }]);
    const response = await as(
      app,
      admin,
    )({
      method: 'POST',
      url: `/v1/reports/${report.id}/photos`,
      headers: { 'content-type': form.contentType },
      body: form.body,
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ reportId: report.id, caption: 'Acta', contentType: 'image/jpeg' });
  });
});
