// Clients that behave like observers' phones for fault tests: each report is sent with its id and body
// until the server acknowledges it (201 or 200), retrying on 5xx, network errors and timeouts, honouring
// Retry-After (capped); and the checks that what was acknowledged is stored exactly once.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The centres of test/fixtures/registry-sample.csv. */
export const SAMPLE_CENTRES = ['010101001', '010102001', '010102002', '130101001', '130201001'] as const;

/** A voting report (no election needed), or, every fourth, an incident: content unique to `i`. */
export function phoneReport(i: number, centreCode: string = SAMPLE_CENTRES[i % SAMPLE_CENTRES.length]!) {
  const id = randomUUID();
  if (i % 4 === 3) {
    return {
      id,
      kind: 'incident',
      centreCode,
      observedAt: new Date(Date.now() - 60_000).toISOString(),
      answers: { category: 'violence', severity: 'low', description: `Fault test incident ${i}`, ongoing: false },
    };
  }
  return {
    id,
    kind: 'voting',
    centreCode,
    observedAt: new Date(Date.now() - 60_000).toISOString(),
    answers: {
      queueLength: 'short',
      waitingMinutes: i % 90,
      assistedVotingProblems: false,
      identificationProblems: false,
      securityForces: 'appropriate',
      propagandaNearby: false,
    },
    notes: `fault test report ${i}`,
  };
}

export interface PhoneStats {
  /** Reports the phones were given. */
  sent: number;
  /** Ids the server acknowledged (201 or 200), each once. */
  acknowledged: Set<string>;
  /** Every answer by status ("201", "503", …, "network" for a failed exchange). */
  statuses: Record<string, number>;
  /** Answers with a 5xx that did not carry Retry-After, and every 500, with their bodies (the first 20). */
  badAnswers: string[];
  attempts: number;
  /** Milliseconds of each attempt that got a 201/200. */
  latencies: number[];
}

export function newStats(): PhoneStats {
  return { sent: 0, acknowledged: new Set(), statuses: {}, badAnswers: [], attempts: 0, latencies: [] };
}

/**
 * Sends `reports` from `phones` concurrent phones (each takes the next report when its current one is
 * acknowledged), to `bases()` (a phone picks one per attempt, round robin), until every report is
 * acknowledged or `deadline` passes. `onProgress` runs after every acknowledgement.
 */
export async function runPhones(options: {
  bases: () => string[];
  token: string;
  reports: Record<string, unknown>[];
  phones: number;
  deadline: number;
  stats?: PhoneStats;
  attemptTimeoutMs?: number;
  onProgress?: (stats: PhoneStats) => void;
}): Promise<PhoneStats> {
  const stats = options.stats ?? newStats();
  stats.sent += options.reports.length;
  const queue = [...options.reports];
  let turn = 0;
  const count = (key: string) => (stats.statuses[key] = (stats.statuses[key] ?? 0) + 1);
  const phone = async () => {
    for (let report = queue.shift(); report; report = queue.shift()) {
      const body = JSON.stringify(report);
      let backoff = 100;
      for (;;) {
        if (Date.now() > options.deadline) return;
        const bases = options.bases();
        const base = bases[turn++ % bases.length]!;
        stats.attempts += 1;
        const started = performance.now();
        let retryAfter: number | undefined;
        try {
          const response = await fetch(`${base}/v1/reports`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
            signal: AbortSignal.timeout(options.attemptTimeoutMs ?? 15_000),
          });
          const text = await response.text();
          count(String(response.status));
          if (response.status === 201 || response.status === 200) {
            stats.latencies.push(performance.now() - started);
            stats.acknowledged.add(report.id as string);
            options.onProgress?.(stats);
            break;
          }
          if (response.status < 500)
            throw new Error(`POST /v1/reports answered ${response.status}, which a retry cannot fix: ${text}`);
          const header = response.headers.get('retry-after');
          if ((response.status === 500 || !header) && stats.badAnswers.length < 20)
            stats.badAnswers.push(`${response.status} ${header ?? '(no Retry-After)'} ${text.slice(0, 300)}`);
          retryAfter = header ? Number(header) * 1000 : undefined;
        } catch (error) {
          if ((error as Error).message.startsWith('POST /v1/reports answered')) throw error;
          count('network');
        }
        // Phones back off: Retry-After, capped so that the test stays short, else a doubling pause up to 1 s.
        await sleep(Math.min(retryAfter ?? backoff, 1000) * (0.5 + Math.random() / 2));
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: options.phones }, phone));
  return stats;
}

/** The q-quantile (0..1) of `values`, in ms rounded; NaN when empty. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
}

/**
 * What a fault test proves: every report was acknowledged, and each acknowledged id is in the database
 * exactly once, with exactly one revision and one `report.accepted` audit row; no other report exists.
 * Prints what was sent and acknowledged.
 */
export async function expectAcknowledgedStoredOnce(
  label: string,
  stats: PhoneStats,
  query: <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>,
  options: { otherReports?: number } = {},
): Promise<void> {
  const ids = [...stats.acknowledged];
  const rows = await query<{ id: string; reports: number; revisions: number; accepted: number }>(
    `SELECT x.id::text AS id,
            (SELECT count(*)::int FROM reports r WHERE r.id = x.id) AS reports,
            (SELECT count(*)::int FROM report_revisions v WHERE v.report_id = x.id) AS revisions,
            (SELECT count(*)::int FROM audit_entries a WHERE a.entity_type = 'report' AND a.entity_id = x.id::text AND a.action = 'report.accepted') AS accepted
     FROM unnest($1::uuid[]) AS x(id)`,
    [ids],
  );
  const [{ total }] = (await query<{ total: number }>('SELECT count(*)::int AS total FROM reports')) as [
    { total: number },
  ];
  const wrong = rows.filter((row) => row.reports !== 1 || row.revisions !== 1 || row.accepted !== 1);
  console.log(
    `${label}: sent ${stats.sent} reports in ${stats.attempts} attempts, acknowledged ${ids.length}; answers ${JSON.stringify(stats.statuses)}; ` +
      `in the database: ${total} reports, ${rows.length - wrong.length} acknowledged ids with exactly one row, one revision and one audit row` +
      (stats.badAnswers.length > 0 ? `\n  bad answers: ${stats.badAnswers.join('\n  ')}` : ''),
  );
  expect(ids.length, 'every report sent was acknowledged in the end').toBe(stats.sent);
  expect(wrong, 'acknowledged ids without exactly one report, revision and audit row').toEqual([]);
  expect(total, 'no report that was not acknowledged').toBe(ids.length + (options.otherReports ?? 0));
}
