// Observers' phones as a process of their own (so that whatever else a test's process does, reading exports
// for instance, never delays their answers): POST /v1/reports at a steady pace (open loop: a slow answer never
// delays the next send), each report retried like a phone (same id, same body) until acknowledged.
//   node --import tsx test/helpers/paced-writer.ts   with WRITER_CONFIG=<path of a JSON file>:
//   { base, token, perSecond, warmUpMs, durationMs, centres: string[] }
// Prints one JSON line: what was sent, the statuses, the latencies (ms) of attempts after the warm-up, the acknowledged ids.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

interface Config {
  base: string;
  token: string;
  perSecond: number;
  warmUpMs: number;
  durationMs: number;
  centres: string[];
}
const config = JSON.parse(readFileSync(process.env.WRITER_CONFIG!, 'utf8')) as Config;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const VOTING = {
  queueLength: 'short',
  waitingMinutes: 5,
  assistedVotingProblems: false,
  identificationProblems: false,
  securityForces: 'appropriate',
  propagandaNearby: false,
};

const statuses: Record<string, number> = {};
const latencies: number[] = [];
const acknowledged: string[] = [];
const badAnswers: string[] = [];
let attempts = 0;
let measuring = false;
let acknowledgedWhileMeasured = 0;

async function post(report: Record<string, unknown>): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const started = performance.now();
    const timed = measuring;
    attempts += 1;
    try {
      const response = await fetch(`${config.base}/v1/reports`, {
        method: 'POST',
        body: JSON.stringify(report),
        signal: AbortSignal.timeout(30_000),
        headers: { authorization: `Bearer ${config.token}`, 'content-type': 'application/json' },
      });
      const text = await response.text();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      if (timed) latencies.push(performance.now() - started);
      if (response.status === 201 || response.status === 200) {
        acknowledged.push(report.id as string);
        if (timed) acknowledgedWhileMeasured += 1;
        return;
      }
      if (badAnswers.length < 20)
        badAnswers.push(`${response.status} ${response.headers.get('retry-after') ?? '-'} ${text.slice(0, 300)}`);
      if (response.status < 500) return;
    } catch (error) {
      statuses.network = (statuses.network ?? 0) + 1;
      if (timed) latencies.push(performance.now() - started);
      if (badAnswers.length < 20)
        badAnswers.push(`network ${(error as Error).message} ${String((error as { cause?: unknown }).cause ?? '')}`);
    }
    await sleep(500);
  }
}

const inFlight = new Set<Promise<void>>();
const startedAt = performance.now();
let sent = 0;
while (performance.now() - startedAt < config.warmUpMs + config.durationMs) {
  measuring = performance.now() - startedAt >= config.warmUpMs;
  const report = {
    id: randomUUID(),
    kind: 'voting',
    centreCode: config.centres[(sent * 7919) % config.centres.length]!,
    observedAt: new Date(Date.now() - 60_000).toISOString(),
    answers: VOTING,
    notes: `paced writer ${sent}`,
  };
  sent += 1;
  const done: Promise<void> = post(report).finally(() => inFlight.delete(done));
  inFlight.add(done);
  await sleep(Math.max(0, startedAt + (sent * 1000) / config.perSecond - performance.now()));
}
measuring = false;
// The last answers, for at most a minute; then out at once (no timer left to keep the process alive).
let bound: NodeJS.Timeout | undefined;
await Promise.race([Promise.all(inFlight), new Promise<void>((resolve) => (bound = setTimeout(resolve, 60_000)))]);
clearTimeout(bound);
process.stdout.write(
  `${JSON.stringify({ sent, attempts, statuses, latencies, acknowledged, badAnswers, acknowledgedPerSecond: (acknowledgedWhileMeasured * 1000) / config.durationMs })}\n`,
  () => process.exit(0),
);
