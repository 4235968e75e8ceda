// One LISTEN connection per process, shared by every cache that another process's write must empty at once
// (tokens, the election): a write NOTIFYs its channel in its transaction (delivered at commit, to this
// process too), and each subscriber forgets what the payload names. While the connection is down every
// subscriber is reset and told so (`listening` is false): a cache must then be off, since a notification
// may be missed; it is reset again once listening resumes.
import pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from './client.js';

export interface Subscriber {
  /** A notification on the channel (its payload, '' when none). */
  notified(payload: string): void;
  /** Notifications may have been missed (the connection was lost, or has just been made): forget everything. */
  reset(): void;
}

export interface Listener {
  /** Whether notifications arrive now: caches serve only while this holds. */
  readonly listening: boolean;
  subscribe(channel: string, subscriber: Subscriber): void;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Tells every process (this one included) of changes on `channel`; inside a transaction, takes effect at commit. */
export async function notify(tx: Db, channel: string, payloads: string[]): Promise<void> {
  for (const payload of new Set(payloads)) await tx.$executeRaw`SELECT pg_notify(${channel}, ${payload})`;
}

export function createListener(options: { url: string; log: Pick<Logger, 'warn'>; retryMs?: number }): Listener {
  const subscribers = new Map<string, Subscriber[]>();
  let client: pg.Client | undefined;
  let listening = false;
  let closed = false;
  let started = false;
  let retry: NodeJS.Timeout | undefined;
  const resetAll = () => {
    for (const list of subscribers.values()) for (const subscriber of list) subscriber.reset();
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const connection = new pg.Client({
      connectionString: options.url,
      application_name: 'testigo-listener',
      keepAlive: true,
      connectionTimeoutMillis: 5000,
    });
    const lost = (error?: Error) => {
      if (client !== connection) return;
      listening = false;
      client = undefined;
      resetAll();
      connection.end().catch(() => undefined);
      if (closed) return;
      options.log.warn({ err: error }, 'caches off: lost the notification connection; retrying');
      retry = setTimeout(() => void connect(), options.retryMs ?? 2000);
      retry.unref();
    };
    client = connection;
    connection.on('error', lost);
    connection.on('end', () => lost());
    connection.on('notification', (message) => {
      for (const subscriber of subscribers.get(message.channel) ?? []) subscriber.notified(message.payload ?? '');
    });
    try {
      await connection.connect();
      for (const channel of subscribers.keys()) await connection.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      // What was read while nobody listened may have missed a notification.
      resetAll();
      listening = !closed && client === connection;
    } catch (error) {
      lost(error as Error);
    }
  }

  return {
    get listening() {
      return listening;
    },
    subscribe(channel, subscriber) {
      if (started) throw new Error(`subscribe(${channel}) after the listener started`);
      subscribers.set(channel, [...(subscribers.get(channel) ?? []), subscriber]);
    },
    async start() {
      if (started || subscribers.size === 0) return;
      started = true;
      await connect();
    },
    async close() {
      closed = true;
      listening = false;
      clearTimeout(retry);
      const connection = client;
      client = undefined;
      resetAll();
      await connection?.end().catch(() => undefined);
    },
  };
}
