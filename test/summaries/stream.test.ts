// GET /v1/summaries/stream through a real listening server and a real HTTP client (fetch reading the body):
// first event, change within 1.5 s, coalescing, Last-Event-ID, heartbeat, limits, scope, two processes on one
// database, clean shutdown and nothing left running once clients go.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createDatabase, databaseOptions } from '../../src/infra/db/client.js';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp, testConfig } from '../helpers/app.js';
import { createReport, seedRegistry, setElection } from '../helpers/factories.js';

const env = {
  STREAM_HEARTBEAT_MS: '300',
  STREAM_POLL_MS: '100',
  STREAM_MAX_PER_TOKEN: '3',
  STREAM_MAX_PER_IP: '6',
};
const { app, db, admin } = await setupTestApp({ env });
let base = '';

interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
}

/** An open stream: its events and comments as they arrive. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const events: (SseEvent & { at: number })[] = [];
  const comments: string[] = [];
  let ended = false;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  if (response.status === 200) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event: SseEvent & { at: number } = { at: performance.now() };
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comments.push(line.slice(1).trim());
              else {
                const colon = line.indexOf(':');
                const field = line.slice(0, colon);
                const value = line.slice(colon + 1).replace(/^ /, '');
                if (field === 'event' || field === 'id' || field === 'data') event[field] = value;
              }
            }
            if (event.event) events.push(event);
            wake();
            end = buffer.indexOf('\n\n');
          }
        }
      } catch {
        // aborted
      }
      ended = true;
      wake();
    })();
  }
  const until = async (condition: () => boolean, ms: number) => {
    const deadline = performance.now() + ms;
    while (!condition()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  };
  return {
    response,
    events,
    comments,
    get ended() {
      return ended;
    },
    until,
    data: (i: number) =>
      JSON.parse(events[i]!.data!) as { version: number; national: unknown; states: { code: string }[] },
    close: () => controller.abort(),
  };
}
const streamUrl = () => `${base}/v1/summaries/stream`;
const auth = (actor: TestActor) => actor.headers;

beforeAll(async () => {
  await seedRegistry(app, admin);
  await setElection(app, admin);
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});

const settle = async (target: FastifyInstance) => {
  const stats = target.services.summaryStreams.stats;
  for (let i = 0; i < 50 && stats().streams > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  return stats();
};

describe('GET /v1/summaries/stream', () => {
  it('sends the national and state rows on connect, as the JSON routes answer them, and a change within 1.5 s', async () => {
    const stream = await openStream(streamUrl(), auth(admin));
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.response.headers.get('cache-control')).toMatch(/no-cache/);
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
    expect(await stream.until(() => stream.events.length >= 1, 2000)).toBe(true);
    const first = stream.data(0);
    expect(stream.events[0]!.event).toBe('summary');
    expect(Number(stream.events[0]!.id)).toBe(first.version);
    const national = (await as(app, admin)('/v1/summaries/national')).json();
    const states = (await as(app, admin)('/v1/summaries?level=state')).json();
    expect(first.national).toEqual(national);
    expect(first.states).toEqual(states.items);

    const posted = performance.now();
    await createReport(app, admin, 'incident');
    expect(await stream.until(() => stream.events.length >= 2, 1500)).toBe(true);
    expect(stream.events[1]!.at - posted).toBeLessThan(1500);
    const second = stream.data(1);
    expect(second.version).toBeGreaterThan(first.version);
    expect((second.national as { incidents: { total: number } }).incidents.total).toBe(
      (first.national as { incidents: { total: number } }).incidents.total + 1,
    );
    stream.close();
  });

  it('coalesces many changes within a second into at most two events', async () => {
    const stream = await openStream(streamUrl(), auth(admin));
    await stream.until(() => stream.events.length >= 1, 2000);
    const start = stream.events.length;
    const began = performance.now();
    while (performance.now() - began < 900) await createReport(app, admin, 'voting');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const within = stream.events.filter((event) => event.at >= began && event.at < began + 1000).length;
    expect(within).toBeLessThanOrEqual(2);
    expect(stream.events.length - start).toBeGreaterThanOrEqual(1);
    // The latest state wins: the last event names the current version.
    await stream.until(() => false, 1200);
    const [row] = await db.query<{ v: string }>('SELECT testigo_tallies_version()::text AS v');
    expect(stream.events.at(-1)!.id).toBe(row!.v);
    stream.close();
  });

  it('resumes with Last-Event-ID: nothing until the next change when current, at once when older', async () => {
    const [row] = await db.query<{ v: string }>('SELECT testigo_tallies_version()::text AS v');
    const current = row!.v;
    const resumed = await openStream(streamUrl(), { ...auth(admin), 'last-event-id': current });
    const older = await openStream(streamUrl(), { ...auth(admin), 'last-event-id': String(Number(current) - 1) });
    expect(await older.until(() => older.events.length >= 1, 1500)).toBe(true);
    expect(older.events[0]!.id).toBe(current);
    expect(await resumed.until(() => resumed.events.length >= 1, 600)).toBe(false);
    await createReport(app, admin, 'voting');
    expect(await resumed.until(() => resumed.events.length >= 1, 1500)).toBe(true);
    expect(Number(resumed.events[0]!.id)).toBeGreaterThan(Number(current));
    resumed.close();
    older.close();
  });

  it('sends a heartbeat comment at STREAM_HEARTBEAT_MS', async () => {
    const stream = await openStream(streamUrl(), auth(admin));
    expect(await stream.until(() => stream.comments.includes('heartbeat'), 1000)).toBe(true);
    stream.close();
  });

  it('limits open streams per token and per address (429 TOO_MANY_STREAMS, Retry-After), and frees them on close', async () => {
    expect((await settle(app)).streams).toBe(0);
    const mine = await Promise.all([1, 2, 3].map(() => openStream(streamUrl(), auth(admin))));
    expect(mine.map((stream) => stream.response.status)).toEqual([200, 200, 200]);
    const refused = await openStream(streamUrl(), auth(admin));
    expect(refused.response.status).toBe(429);
    expect(refused.response.headers.get('retry-after')).toBeTruthy();
    expect(((await refused.response.json()) as { code: string }).code).toBe('TOO_MANY_STREAMS');

    const other = await createActor(app, 'analyst');
    const third = await createActor(app, 'analyst');
    const theirs = await Promise.all([1, 2, 3].map(() => openStream(streamUrl(), auth(other))));
    expect(theirs.map((stream) => stream.response.status)).toEqual([200, 200, 200]);
    const byAddress = await openStream(streamUrl(), auth(third));
    expect(byAddress.response.status).toBe(429);
    await byAddress.response.body?.cancel();

    for (const stream of [...mine, ...theirs]) stream.close();
    const stats = await settle(app);
    expect(stats).toEqual({ streams: 0, polling: false, heartbeat: false, pendingTimers: 0, perToken: 0, perIp: 0 });
    const again = await openStream(streamUrl(), auth(admin));
    expect(again.response.status).toBe(200);
    again.close();
  });

  it('is scoped like summaries: a coordinator of one state gets only that state and no national row', async () => {
    const coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
    const stream = await openStream(streamUrl(), auth(coordinator));
    expect(await stream.until(() => stream.events.length >= 1, 2000)).toBe(true);
    const event = stream.data(0);
    expect(event.national).toBeNull();
    expect(event.states.map((row) => row.code)).toEqual(['01']);
    expect(event.states).toEqual((await as(app, coordinator)('/v1/summaries?level=state')).json().items);
    stream.close();
    expect((await fetch(streamUrl())).status).toBe(401);
  });

  it('pushes a write made through another process on the same database, and ends cleanly when that process closes', async () => {
    const config = testConfig({ DATABASE_URL: db.url, ...env });
    const other = await buildApp({ config, database: createDatabase(databaseOptions(config, db.url)) });
    const otherBase = await other.listen({ port: 0, host: '127.0.0.1' });
    try {
      const stream = await openStream(`${otherBase}/v1/summaries/stream`, auth(admin));
      expect(await stream.until(() => stream.events.length >= 1, 2000)).toBe(true);
      const posted = performance.now();
      await createReport(app, admin, 'incident'); // through the first app
      expect(await stream.until(() => stream.events.length >= 2, 1500)).toBe(true);
      expect(stream.events[1]!.at - posted).toBeLessThan(1500);

      const closing = performance.now();
      await other.close();
      expect(await stream.until(() => stream.ended, 2000)).toBe(true);
      expect(performance.now() - closing).toBeLessThan(2000);
      expect(other.services.summaryStreams.stats().polling).toBe(false);
    } finally {
      await other.close().catch(() => undefined);
    }
  });
});

afterAll(async () => {
  expect((await settle(app)).streams).toBe(0);
});
