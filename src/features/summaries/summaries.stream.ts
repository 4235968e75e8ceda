// GET /v1/summaries/stream: Server-Sent Events carrying the national and state rows whenever the tallies'
// version changes. Change detection polls the version from the database (one coalesced query per process
// per STREAM_POLL_MS while any stream is open), so a write through any API process reaches every stream of
// every process; no NOTIFY in the write path (PostgreSQL serialises the commits of notifying transactions).
// Each event is computed once per (version, scope) through the versioned answer cache and written to every
// stream of that scope as the same bytes; a stream gets at most one event per STREAM_MIN_INTERVAL_MS
// (coalesced: the latest state wins); a comment line every STREAM_HEARTBEAT_MS keeps proxies and the
// socket's idle timeout from cutting it.
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../infra/auth/actor.js';
import type { CachedAnswer, VersionClock } from '../../infra/cache/versioned.js';
import { AppError } from '../../infra/errors.js';

export interface StreamOptions {
  maxPerToken: number;
  maxPerIp: number;
  heartbeatMs: number;
  pollMs: number;
  minIntervalMs: number;
}

interface Stream {
  res: ServerResponse;
  actor: Actor | null;
  /** The version of the last event sent (or the client's Last-Event-ID when it was current). */
  lastId: number;
  lastSentAt: number;
  timer: NodeJS.Timeout | undefined;
  sending: boolean;
  closed: boolean;
  token: string | null;
  ip: string;
}

/** A buffer that a reader this far behind has not taken: the stream is dropped rather than grown. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export function createSummaryStreams(deps: {
  clock: VersionClock;
  /** The event's rows at `version` or later (the summaries service's streamAt). */
  eventAt(actor: Actor | null, version: number): Promise<CachedAnswer>;
  options: StreamOptions;
  log?: { warn(obj: object, msg: string): void };
}) {
  const { clock, options } = deps;
  const streams = new Set<Stream>();
  const perToken = new Map<string, number>();
  const perIp = new Map<string, number>();
  let latest = -1;
  let poller: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let polling = false;
  let closing = false;
  // The frame of an answer, built once and written to every stream of its scope.
  const frames = new WeakMap<CachedAnswer, Buffer>();
  const frameOf = (answer: CachedAnswer) => {
    let frame = frames.get(answer);
    if (!frame) {
      const body = answer.body.toString('utf8');
      frame = Buffer.from(
        `event: summary\nid: ${answer.version}\ndata: {"version":${answer.version},${body.slice(1)}\n\n`,
      );
      frames.set(answer, frame);
    }
    return frame;
  };

  const count = (map: Map<string, number>, key: string, delta: number) => {
    const next = (map.get(key) ?? 0) + delta;
    if (next <= 0) map.delete(key);
    else map.set(key, next);
  };

  function timers() {
    if (streams.size > 0 && !poller) {
      poller = setInterval(() => void poll(), options.pollMs);
      heartbeat = setInterval(beat, options.heartbeatMs);
    } else if (streams.size === 0 && poller) {
      clearInterval(poller);
      clearInterval(heartbeat);
      poller = undefined;
      heartbeat = undefined;
    }
  }

  function write(stream: Stream, chunk: Buffer | string) {
    if (stream.closed) return;
    if (stream.res.writableLength > MAX_BUFFERED_BYTES) {
      stream.res.destroy();
      return;
    }
    stream.res.write(chunk);
  }

  function beat() {
    for (const stream of streams) write(stream, ': heartbeat\n\n');
  }

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const version = await clock.current();
      if (version > latest) {
        latest = version;
        for (const stream of streams) if (stream.lastId < version) schedule(stream);
      }
    } catch (error) {
      deps.log?.warn({ err: error }, 'summary streams: could not read the tallies version');
    } finally {
      polling = false;
    }
  }

  function schedule(stream: Stream) {
    if (stream.timer || stream.sending || stream.closed) return;
    const wait = Math.max(0, stream.lastSentAt + options.minIntervalMs - Date.now());
    stream.timer = setTimeout(() => {
      stream.timer = undefined;
      void send(stream);
    }, wait);
  }

  async function send(stream: Stream) {
    stream.sending = true;
    try {
      const answer = await deps.eventAt(stream.actor, Math.max(latest, stream.lastId, 0));
      latest = Math.max(latest, answer.version);
      if (!stream.closed && answer.version > stream.lastId) {
        write(stream, frameOf(answer));
        stream.lastId = answer.version;
        stream.lastSentAt = Date.now();
      }
    } catch (error) {
      deps.log?.warn({ err: error }, 'summary streams: could not compute an event');
      // Tried again at the next change (or poll that finds one).
    } finally {
      stream.sending = false;
    }
    if (!stream.closed && latest > stream.lastId) schedule(stream);
  }

  function remove(stream: Stream) {
    if (stream.closed) return;
    stream.closed = true;
    clearTimeout(stream.timer);
    stream.timer = undefined;
    streams.delete(stream);
    if (stream.token) count(perToken, stream.token, -1);
    count(perIp, stream.ip, -1);
    timers();
  }

  return {
    /** Opens a stream for the request (refusing with 429 TOO_MANY_STREAMS over a limit). */
    async open(request: FastifyRequest, reply: FastifyReply, actor: Actor | null): Promise<void> {
      if (closing)
        throw new AppError('SHUTTING_DOWN', 'The server is shutting down', { headers: { 'retry-after': '1' } });
      const token = actor?.tokenId ?? null;
      const refuse = (what: string, limit: number) =>
        new AppError('TOO_MANY_STREAMS', `${what} has ${limit} summary streams open already`, {
          headers: { 'retry-after': '10' },
        });
      if (token && (perToken.get(token) ?? 0) >= options.maxPerToken) throw refuse('This token', options.maxPerToken);
      if ((perIp.get(request.ip) ?? 0) >= options.maxPerIp) throw refuse('This address', options.maxPerIp);
      const header = request.headers['last-event-id'];
      const resumeAt = typeof header === 'string' && /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : -1;
      const current = await clock.current();
      latest = Math.max(latest, current);

      const stream: Stream = {
        res: reply.raw,
        actor,
        lastId: resumeAt === current ? current : -1,
        lastSentAt: 0,
        timer: undefined,
        sending: false,
        closed: false,
        token,
        ip: request.ip,
      };
      if (token) count(perToken, token, 1);
      count(perIp, request.ip, 1);
      streams.add(stream);
      timers();

      reply.hijack();
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value : String(value);
      }
      reply.raw.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        // For proxies: never cache, never buffer (nginx reads X-Accel-Buffering).
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      // The heartbeat is the stream's activity: the server's idle timeout must not cut it between changes.
      request.raw.socket?.setTimeout?.(0);
      reply.raw.on('close', () => remove(stream));
      reply.raw.on('error', () => remove(stream));
      // A reconnecting client is told how long to wait (EventSource's retry field).
      write(stream, `retry: ${Math.max(1000, options.minIntervalMs)}\n\n`);
      if (stream.lastId < current) schedule(stream);
    },

    /** Ends every stream (the server is closing) and stops the timers. */
    close() {
      closing = true;
      for (const stream of [...streams]) {
        stream.res.end();
        remove(stream);
      }
      timers();
    },

    /** Open streams and running timers (tests: nothing may leak). */
    stats() {
      let pending = 0;
      for (const stream of streams) if (stream.timer) pending += 1;
      return {
        streams: streams.size,
        polling: poller !== undefined,
        heartbeat: heartbeat !== undefined,
        pendingTimers: pending,
        perToken: perToken.size,
        perIp: perIp.size,
      };
    },
  };
}

export type SummaryStreams = ReturnType<typeof createSummaryStreams>;
