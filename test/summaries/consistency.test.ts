// The trigger-kept tallies against a recount from the reports, under thousands of concurrent inserts,
// retries (same and different content), batches, revisions and reviews: equal at every moment (checked
// in one snapshot while the writes run) and at the end, at every level; and equal to a full rebuild.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type SummaryLevel,
  summariesRepository,
  type TallyRow,
} from '../../src/features/summaries/summaries.repository.js';
import { preparedQuery } from '../../src/infra/db/prepared.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { seedRegistry, setElection } from '../helpers/factories.js';
import { expectTalliesMatchRecount } from './recount.js';

// Thousands of requests from two tokens: the rate limit is lifted (0 = unlimited).
const { app, db, admin } = await setupTestApp({ env: { RATE_LIMIT_PER_TOKEN: '0' } });
const OPERATIONS = 2_400;
const CONCURRENCY = 16;

const TABLES = [
  ['010101001', 1],
  ['010101001', 2],
  ['010102001', 1],
  ['010102002', 1],
  ['130101001', 1],
  ['130101001', 2],
  ['130101001', 3],
  ['130201001', 1],
] as const;
const CENTRES = [...new Set(TABLES.map(([centre]) => centre))];
const CANDIDATES = ['EG', 'NM', 'LM'];

let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;

function answersOf(kind: string, variant: number): Record<string, unknown> {
  switch (kind) {
    case 'opening':
      return {
        openedAt: `0${5 + (variant % 4)}:${String((variant * 7) % 60).padStart(2, '0')}`,
        tableStaffComplete: true,
        zeroReportPrinted: variant % 2 === 0,
        witnessesPresent: ['EG'],
      };
    case 'incident':
      return {
        category: pick(['violence', 'vote_buying', 'other']),
        severity: pick(['low', 'medium', 'high', 'critical']),
        description: `incident ${variant}`,
        ongoing: variant % 3 === 0,
      };
    case 'results': {
      // Two tallies per table, so that some tables conflict.
      const votes = { EG: 200 + (variant % 2), NM: 100, LM: 5 };
      return {
        registeredVoters: 500,
        validVotes: votes.EG + votes.NM + votes.LM,
        nullVotes: 3,
        votes,
        citizenAudit: variant % 2 === 0,
      };
    }
    case 'arrival':
      return { accessGranted: variant % 5 !== 0 };
    default:
      return {
        queueLength: 'short',
        waitingMinutes: variant % 60,
        assistedVotingProblems: false,
        identificationProblems: false,
        securityForces: 'appropriate',
        propagandaNearby: false,
      };
  }
}

function newReport() {
  const [centre, table] = pick(TABLES);
  const kind = pick(['arrival', 'opening', 'voting', 'results', 'results', 'incident']);
  return {
    id: randomUUID(),
    kind,
    centreCode: centre,
    ...(kind === 'results' || kind === 'opening' ? { table } : {}),
    observedAt: '2024-07-28T12:00:00Z',
    answers: answersOf(kind, Math.floor(random() * 1000)),
  };
}

let writer: TestActor;
let reviewer: TestActor;

beforeAll(async () => {
  await seedRegistry(app, admin);
  const election = {
    name: 'E',
    date: '2024-07-28',
    timeZone: 'America/Caracas',
    candidates: CANDIDATES.map((code) => ({ code, name: code })),
  };
  await setElection(app, admin, election);
  writer = await createActor(app, 'coordinator');
  reviewer = await createActor(app, 'coordinator');
});

const sortedHistogram = (row: TallyRow) => {
  const pairs = (row.openingMinutes ?? [])
    .map((minute, i) => [minute, row.openingCentres![i]])
    .sort((a, b) => a[0]! - b[0]!);
  return {
    ...row,
    openingMinutes: pairs.map(([minute]) => minute),
    openingCentres: pairs.map(([, centres]) => centres),
  };
};

/** Tallies and recount read in one REPEATABLE READ snapshot: they must agree whatever is being written. */
async function compareInOneSnapshot(levels: SummaryLevel[]): Promise<void> {
  const client = await app.db.pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const query = preparedQuery(client);
    for (const level of levels) {
      const area = { level, root: null };
      const [tallies, recount] = [
        await summariesRepository.fromTallies(query, area),
        await summariesRepository.fromReports(query, area, {}),
      ];
      // The histograms may list their minutes in another order: compare them sorted.
      expect(tallies.map(sortedHistogram), level).toEqual(recount.map(sortedHistogram));
    }
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

describe('summaries under concurrent writes', () => {
  it('equal a recount at every moment and at the end', { timeout: 240_000 }, async () => {
    const sent: { payload: ReturnType<typeof newReport> }[] = [];
    const statuses = new Map<string, number>();
    const count = (what: string) => statuses.set(what, (statuses.get(what) ?? 0) + 1);
    let done = 0;
    const operation = async () => {
      const roll = random();
      const post = as(app, writer);
      if (sent.length < 20 || roll < 0.4) {
        const payload = newReport();
        const response = await post({ method: 'POST', url: '/v1/reports', payload });
        count(`create ${response.statusCode}`);
        if (response.statusCode === 201) sent.push({ payload });
      } else if (roll < 0.5) {
        // A retry: the same content (200), or other content under the same id (409).
        const { payload } = pick(sent);
        const other = random() < 0.5;
        const response = await post({
          method: 'POST',
          url: '/v1/reports',
          payload: other ? { ...payload, notes: 'changed' } : payload,
        });
        count(`retry ${response.statusCode}`);
      } else if (roll < 0.58) {
        const reports = Array.from({ length: 10 }, newReport);
        const response = await post({ method: 'POST', url: '/v1/reports/batch', payload: { reports } });
        count(`batch ${response.statusCode}`);
        expect(response.statusCode, response.body.slice(0, 500)).toBe(200);
        for (const [index, result] of (response.json().results as { status: string }[]).entries())
          if (result.status === 'created') sent.push({ payload: reports[index]! });
      } else if (roll < 0.8) {
        const { payload } = pick(sent);
        const response = await post({
          method: 'POST',
          url: `/v1/reports/${payload.id}/revisions`,
          payload: { answers: answersOf(payload.kind, Math.floor(random() * 1000)), reason: 'correction' },
        });
        count(`revise ${response.statusCode}`);
      } else {
        const { payload } = pick(sent);
        const state = pick(['verified', 'flagged', 'rejected', 'rejected']);
        const response = await as(
          app,
          reviewer,
        )({ method: 'POST', url: `/v1/reports/${payload.id}/review`, payload: { state } });
        count(`review ${response.statusCode}`);
      }
      done += 1;
    };

    let writing = true;
    let snapshots = 0;
    const checker = (async () => {
      while (writing) {
        await compareInOneSnapshot(['national', 'state', 'centre']);
        snapshots += 1;
      }
    })();
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < OPERATIONS) {
            next += 1;
            await operation();
          }
        }),
      );
    } finally {
      writing = false;
      await checker;
    }

    const unexpected = [...statuses].filter(([what]) => !/ (200|201|409)$/.test(what));
    expect(unexpected, JSON.stringify([...statuses])).toEqual([]);
    expect(done).toBe(OPERATIONS);
    expect(snapshots).toBeGreaterThan(3);
    console.log(
      `consistency: ${OPERATIONS} operations (${JSON.stringify(Object.fromEntries(statuses))}), ${snapshots} snapshot comparisons while writing`,
    );

    const live = await expectTalliesMatchRecount(app, admin);
    const [stored] = await db.query<{ reports: number; rejected: number; conflicting: number }>(
      "SELECT count(*)::int AS reports, count(*) FILTER (WHERE review_state = 'rejected')::int AS rejected, count(*) FILTER (WHERE 'conflict' = ANY (flags))::int AS conflicting FROM reports",
    );
    expect((live as { reports: { total: number } }).reports.total + stored!.rejected).toBe(stored!.reports);
    expect(stored!.reports).toBeGreaterThan(1000);
    expect(stored!.rejected).toBeGreaterThan(0);

    // A rebuild from scratch gives the same tallies, row for row.
    const tallies = async () =>
      db.query(`
      SELECT level, code, sum(arrival + opening + voting + closing + results + incident) AS reports, sum(rejected) AS rejected, sum(flagged) AS flagged,
             sum(centres_reporting) AS centres, sum(tables_counted) AS tables, sum(valid_votes) AS valid, jsonb_agg(votes ORDER BY stripe) AS votes
      FROM summary_tallies GROUP BY level, code ORDER BY level, code`);
    const normalise = (rows: Record<string, unknown>[]) =>
      rows
        .map((row) => ({ ...row, votes: undefined }))
        .filter((row) =>
          Object.entries(row).some(([key, value]) => !['level', 'code', 'votes'].includes(key) && Number(value) !== 0),
        );
    const before = normalise(await tallies());
    const openingsBefore = await db.query(
      'SELECT level, code, minute, centres FROM summary_openings WHERE centres <> 0 ORDER BY 1, 2, 3',
    );
    const tableResultsBefore = await db.query('SELECT * FROM table_results ORDER BY centre_code, table_number');
    await db.query('SELECT testigo_summaries_rebuild()');
    expect(normalise(await tallies())).toEqual(before);
    expect(
      await db.query('SELECT level, code, minute, centres FROM summary_openings WHERE centres <> 0 ORDER BY 1, 2, 3'),
    ).toEqual(openingsBefore);
    expect(await db.query('SELECT * FROM table_results ORDER BY centre_code, table_number')).toEqual(
      tableResultsBefore,
    );
    await expectTalliesMatchRecount(app, admin);
    expect(CENTRES.length).toBe(5);
  });
});
