// The log: receipts for what was accepted (built from the stored rows, so a replay gets the same bytes), the
// integrator that turns queued rows into leaves and signs a checkpoint (every process runs it; the advisory lock
// lets one at a time), and the reads of checkpoints, proofs, entries and tiles (only up to the latest checkpoint).

import { LRUCache } from 'lru-cache';
import type { InclusionPromise } from '../../../bin/lib/tlog.mjs';
import { AppError } from '../../infra/errors.js';
import { type EntrySource, entryBytes, entryKey } from './log.entries.js';
import type { LogKeys } from './log.keys.js';
import type { LogRepository, PendingSource } from './log.repository.js';
import { type ContentHasher, type VerifyOutcome, verifyLog } from './log.verify.js';
import {
  appendLeaves,
  consistencyProof,
  EMPTY_ROOT,
  type HashAt,
  inclusionProof,
  leafHash,
  planConsistency,
  planInclusion,
  planNodes,
  planRoot,
  rootOf,
} from './merkle.js';
import { signCheckpoint, signPromise } from './note.js';
import { encodeEntryBundle, parseTilePath, TILE_HEIGHT, TILE_WIDTH, tileAvailable, tileLeafRange } from './tiles.js';

/** What an accepting answer carries: the exact entry, its leaf hash, and the log's signed promise of inclusion. */
export interface Receipt {
  entry: string;
  leafHash: string;
  /** Always null: see the README ("Receipts"); the index is GET /v1/log/proof/inclusion?leafHash=… */
  logIndex: null;
  promise: InclusionPromise;
}

/** A report as the reports service answers it (what its `report` entry is made of). */
export interface AcceptedReport {
  id: string;
  kind: string;
  formVersion: number;
  centreCode: string;
  table: number | null;
  observerId: string;
  receivedAt: string;
  submissionHash: string;
}

/**
 * Receipts whose entries the integrator may reuse (a few seconds of ingest: it runs every 500 ms at most; ~1 KB
 * each). Reusing one saves serialising and hashing the row again (~10 µs).
 */
const RECENT_RECEIPTS = 10_000;

/** Whether two sources give the same entry (every fact the entry is made of is equal). */
function sameFacts(a: EntrySource, b: EntrySource): boolean {
  const lower = (text: string | null) => (text === null ? null : text.toLowerCase());
  return (
    a.type === b.type &&
    lower(a.reportId) === lower(b.reportId) &&
    a.revision === b.revision &&
    (a.reviewId === null ? null : String(a.reviewId)) === (b.reviewId === null ? null : String(b.reviewId)) &&
    lower(a.photoId) === lower(b.photoId) &&
    a.kind === b.kind &&
    a.formVersion === b.formVersion &&
    a.centreCode === b.centreCode &&
    a.table === b.table &&
    a.contentHash === b.contentHash &&
    a.receivedAt.getTime() === b.receivedAt.getTime() &&
    lower(a.actorId) === lower(b.actorId) &&
    a.state === b.state &&
    a.note === b.note
  );
}

/** Queued rows integrated per transaction. */
const BATCH = 5000;
/** Queued rows integrated between two vacuums of the queue (see logRepository.vacuumQueue). */
const VACUUM_EVERY = 5000;
/** The integrator's period, at most (see startIntegrator). */
const INTEGRATOR_INTERVAL_MS = 500;
/** Entries per GET /v1/log/entries. */
export const MAX_ENTRIES = 1000;

export interface LogServiceDeps {
  repo: LogRepository;
  keys: LogKeys;
  mergeDelayMs: number;
  /** A revision's content hash recomputed from its content (the reports' canonical form; given by the wiring). */
  contentHash: ContentHasher;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void } | undefined;
}

const mapHashAt =
  (nodes: Map<string, Buffer>): HashAt =>
  (level, index) => {
    const hash = nodes.get(`${level}/${index}`);
    if (!hash) throw new Error(`the log has no stored node (${level}, ${index})`);
    return hash;
  };

const range = (detail: string) => new AppError('LOG_RANGE_INVALID', detail);

export function createLogService(deps: LogServiceDeps) {
  const { repo, keys, mergeDelayMs } = deps;

  // The entries of the receipts this process gave lately, for its integrator: an entry is a function of its row's
  // facts, so a queued row whose facts are a receipt's has that receipt's bytes, not serialised and hashed again.
  const given = new LRUCache<string, { source: EntrySource; entry: Buffer; leaf: Buffer }>({ max: RECENT_RECEIPTS });

  /** The entry and leaf hash of `source`: a receipt's, when this process gave one for the same facts lately. */
  function leafOf(source: EntrySource): { entry: Buffer; leaf: Buffer } {
    const known = given.get(entryKey(source));
    if (known && sameFacts(known.source, source)) return known;
    const entry = entryBytes(source, keys.actorKey);
    return { entry, leaf: leafHash(entry) };
  }

  function receiptOf(source: EntrySource): Receipt {
    const { entry, leaf } = leafOf(source);
    given.set(entryKey(source), { source, entry, leaf });
    return {
      entry: entry.toString('base64'),
      leafHash: leaf.toString('base64'),
      logIndex: null,
      promise: signPromise(keys.signer, keys.origin, leaf, source.receivedAt.getTime(), mergeDelayMs),
    };
  }

  /** The tree the latest checkpoint signs (size 0 before any). */
  async function latest(): Promise<{ size: number; root: Buffer; note: string }> {
    const checkpoint = await repo.latestCheckpoint();
    if (!checkpoint)
      return { size: 0, root: EMPTY_ROOT, note: signCheckpoint(keys.signer, keys.origin, 0, EMPTY_ROOT) };
    return { size: Number(checkpoint.size), root: Buffer.from(checkpoint.root, 'hex'), note: checkpoint.note };
  }

  /** Queued rows dequeued since the queue's last vacuum. */
  let sinceVacuum = 0;

  /**
   * Appends one batch of queued rows, if no other process is integrating (null then); then vacuums the queue when
   * VACUUM_EVERY rows were dequeued since its last vacuum (a failed vacuum is told, not thrown).
   */
  async function integrateOnce(): Promise<number | null> {
    const appended = await repo.integrate(BATCH, async (pending: PendingSource[], size, nodesOf) => {
      // Every queued row read is deleted by this run, found or not (a run that rolls back only vacuums early).
      sinceVacuum += pending.length;
      const found = pending.filter((source) => source.found);
      if (found.length < pending.length)
        deps.log?.warn(
          {
            event: 'log.row_missing',
            rows: pending.filter((source) => !source.found).map((source) => source.seq.toString()),
          },
          'queued rows for the log no longer exist; log:verify will say more',
        );
      const leaves = found.map(leafOf);
      const entries = leaves.map((leaf) => leaf.entry);
      const hashes = leaves.map((leaf) => leaf.leaf);
      const done = pending.map((source) => source.seq);
      if (found.length === 0) return { leaves: [], nodes: [], checkpoint: { size, root: EMPTY_ROOT, note: '' }, done };
      const { nodes, root, size: newSize } = await appendLeaves(size, hashes, mapHashAt(await nodesOf(planRoot(size))));
      return {
        leaves: found.map((source, i) => ({ idx: size + i, leafHash: hashes[i]!, entry: entries[i]!, source })),
        nodes,
        checkpoint: { size: newSize, root, note: signCheckpoint(keys.signer, keys.origin, newSize, root) },
        done,
      };
    });
    if (sinceVacuum >= VACUUM_EVERY) {
      sinceVacuum = 0;
      await repo
        .vacuumQueue()
        .catch((error: unknown) =>
          deps.log?.warn({ err: error, event: 'log.vacuum_failed' }, 'vacuuming the log queue failed'),
        );
    }
    return appended;
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopping = false;
  let lastWarning = 0;
  /** Integrates until the queue is empty (or half the merge delay has passed, so the next tick comes soon). */
  async function tick(): Promise<void> {
    try {
      if (!(await repo.hasPending())) return;
      const deadline = Date.now() + mergeDelayMs / 2;
      for (;;) {
        const appended = await integrateOnce();
        if (appended === null || appended < BATCH || Date.now() > deadline || stopping) return;
      }
    } catch (error) {
      // A database that is down, or not migrated yet: said at most every 10 s, and tried again next tick.
      if (Date.now() - lastWarning > 10_000) {
        lastWarning = Date.now();
        deps.log?.warn({ err: error, event: 'log.integrator_failed' }, 'the log integrator failed; retrying');
      }
    }
  }

  /** The last checkpoint this process verified (GET /v1/log/audit starts from it). */
  let verified: { size: number; root: Buffer } | undefined;

  return {
    origin: keys.origin,
    verifierKey: keys.verifierKey,

    /** The receipt of a report (its revision 1) as the reports service answers it: no query. */
    ofReport: (report: AcceptedReport): Receipt =>
      receiptOf({
        type: 'report',
        reportId: report.id,
        revision: 1,
        reviewId: null,
        photoId: null,
        kind: report.kind,
        formVersion: report.formVersion,
        centreCode: report.centreCode,
        table: report.table,
        contentHash: report.submissionHash,
        receivedAt: new Date(report.receivedAt),
        actorId: report.observerId,
        state: null,
        note: null,
      }),

    /** The receipt of a stored row: a report's revision `revision` (1: the report), its latest review, or a photo. */
    async ofStored(key: Parameters<LogRepository['storedSource']>[0]): Promise<Receipt | undefined> {
      const source = await repo.storedSource(key);
      return source ? receiptOf(source) : undefined;
    },

    /**
     * Starts this process's integrator: every min(500 ms, merge delay / 4), which leaves three quarters of the delay
     * for the run itself. Each run costs the same few statements whatever its size, and a new report touches its
     * parish, municipality, state and national analysis rows, shared by the other reports of the run: at 250 ms the
     * integrator spent 0.136 ms of PostgreSQL a report, at 500 ms 0.110 (pg_stat_statements, the ingest bench).
     */
    startIntegrator(): void {
      if (timer) return;
      stopping = false;
      timer = setInterval(
        () => {
          if (running || stopping) return;
          running = tick().finally(() => {
            running = undefined;
          });
        },
        Math.min(INTEGRATOR_INTERVAL_MS, Math.floor(mergeDelayMs / 4)),
      );
      timer.unref();
    },

    /** Stops the integrator; a run in progress finishes (its transaction commits or rolls back whole). */
    async stopIntegrator(): Promise<void> {
      stopping = true;
      clearInterval(timer);
      timer = undefined;
      await running;
    },

    /** Integrates everything queued now (tests, the CLI); answers how many leaves were appended. */
    async integrateAll(): Promise<number> {
      let total = 0;
      for (;;) {
        const appended = await integrateOnce();
        if (appended === null) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        total += appended;
        if (appended === 0 || !(await repo.hasPending())) return total;
      }
    },

    async checkpoint(): Promise<string> {
      return (await latest()).note;
    },

    /** The inclusion proof of a leaf (by index or leaf hash) in the tree of `size` (default: the latest checkpoint's). */
    async inclusion(query: { index?: number | undefined; leafHash?: Buffer | undefined; size?: number | undefined }) {
      const head = await latest();
      const size = query.size ?? head.size;
      if (size > head.size) throw range(`The latest checkpoint has size ${head.size}; size ${size} is not signed yet`);
      let index = query.index;
      if (query.leafHash) {
        index = await repo.leafIndex(query.leafHash);
        if (index === undefined) throw new AppError('NOT_FOUND', 'No leaf of the log has this hash (yet)');
        if (index >= size)
          throw new AppError('NOT_FOUND', `The leaf is at index ${index}, not in the tree of size ${size}`);
      }
      if (index === undefined || index >= size) throw range(`Index ${index} is not in the tree of size ${size}`);
      const plans = [...planInclusion(index, size), planRoot(size), [{ level: 0, index }]];
      const hashAt = mapHashAt(await repo.nodes(planNodes(plans)));
      const proof = await inclusionProof(index, size, hashAt);
      const leaf = await hashAt(0, index);
      return {
        index,
        size,
        leafHash: leaf.toString('base64'),
        rootHash: (await rootOf(size, hashAt)).toString('base64'),
        proof: proof.map((hash) => hash.toString('base64')),
      };
    },

    async consistency(from: number, to?: number) {
      const head = await latest();
      const end = to ?? head.size;
      if (end > head.size) throw range(`The latest checkpoint has size ${head.size}; size ${end} is not signed yet`);
      if (from < 1 || from > end) throw range(`No consistency proof from size ${from} to size ${end} (0 < from ≤ to)`);
      const hashAt = mapHashAt(await repo.nodes(planNodes(planConsistency(from, end))));
      const proof = await consistencyProof(from, end, hashAt);
      return { from, to: end, proof: proof.map((hash) => hash.toString('base64')) };
    },

    async entries(start: number, end: number) {
      const head = await latest();
      if (end <= start) throw range('end must be above start');
      if (end - start > MAX_ENTRIES) throw range(`At most ${MAX_ENTRIES} entries at once`);
      if (end > head.size) throw range(`The latest checkpoint has size ${head.size}`);
      const rows = await repo.leaves(start, end);
      return {
        entries: rows.map((row) => ({
          index: Number(row.idx),
          leafHash: Buffer.from(row.leafHash, 'hex').toString('base64'),
          entry: row.entry,
        })),
      };
    },

    /** A C2SP tlog-tiles hash tile or entry bundle (`tile/…` path), if the latest checkpoint covers it. */
    async tile(path: string): Promise<{ body: Buffer; full: boolean }> {
      const tile = parseTilePath(path);
      if (!tile) throw new AppError('NOT_FOUND', `${path} is not a tile path`);
      const head = await latest();
      if (!tileAvailable(tile, head.size))
        throw new AppError('NOT_FOUND', `The latest checkpoint (size ${head.size}) has no ${path}`);
      const full = tile.width === TILE_WIDTH;
      if (tile.level === 'entries') {
        const { start, end } = tileLeafRange(tile);
        const rows = await repo.leaves(start, end);
        return { body: encodeEntryBundle(rows.map((row) => Buffer.from(row.entry, 'base64'))), full };
      }
      const first = tile.index * TILE_WIDTH;
      const hashes = await repo.levelRange(tile.level * TILE_HEIGHT, first, first + tile.width);
      if (hashes.length !== tile.width) throw new Error(`the log is missing hashes of ${path}`);
      return { body: Buffer.concat(hashes), full };
    },

    /** log:verify: every row against the log, the whole tree rebuilt, every checkpoint checked. */
    verify: (): Promise<VerifyOutcome> => verifyLog({ repo, keys, contentHash: deps.contentHash }),

    /**
     * GET /v1/log/audit: the same check of the rows, and of the tree from the last checkpoint this process verified
     * (its consistency with the latest, and the leaves and nodes appended since).
     */
    async audit(): Promise<VerifyOutcome> {
      const outcome = await verifyLog({ repo, keys, contentHash: deps.contentHash }, verified);
      if (outcome.ok && outcome.head) verified = outcome.head;
      return outcome;
    },
  };
}

export type LogService = ReturnType<typeof createLogService>;
