// Detection (npm run cli -- log:verify, GET /v1/log/audit): every entry recomputed from the rows as they are now
// and compared with the stored leaves; every revision's content hash recomputed from its content; every report
// row compared with its latest revision; every row without a leaf; and the tree: leaf hashes, node hashes and
// every checkpoint's root and signature (from a verified checkpoint on: its consistency with the latest one).
import { equalBytes, openCheckpoint, verifyConsistency } from '../../../bin/lib/tlog.mjs';
import { differingEntryFields, type EntrySource, type EntryType, entryBytes, entryKey } from './log.entries.js';
import type { LogKeys } from './log.keys.js';
import type { LogRepository } from './log.repository.js';
import {
  appendLeaves,
  buildLevels,
  consistencyProof,
  type HashAt,
  leafHash,
  levelsHashAt,
  planConsistency,
  planNodes,
  planRoot,
  rootOf,
} from './merkle.js';

/** The reports' content hash (canonical.ts), of a revision's stored content. */
export type ContentHasher = (content: {
  kind: string;
  centreCode: string;
  table: number | null;
  observedAt: string;
  answers: Record<string, unknown>;
  notes: string | null;
  location: { lat: number; lon: number; accuracy: number | null } | null;
}) => string;

export type ProblemKind = 'changed' | 'deleted' | 'missing from the log' | 'log rewritten';
export interface LogProblem {
  problem: ProblemKind;
  reportId: string | null;
  index: number | null;
  type: EntryType | null;
  detail: string;
}
export interface VerifyOutcome {
  ok: boolean;
  checked: {
    size: number;
    leaves: number;
    rows: number;
    checkpoints: number;
    /** The tree was checked from this verified size on (0: rebuilt from the first leaf). */
    treeFrom: number;
    rootHash: string | null;
  };
  problems: LogProblem[];
  /** The checkpoint verified (when ok): where the next incremental check starts. */
  head?: { size: number; root: Buffer };
}

const PAGE = 10_000;

export async function verifyLog(
  deps: { repo: LogRepository; keys: LogKeys; contentHash: ContentHasher },
  from?: { size: number; root: Buffer },
): Promise<VerifyOutcome> {
  const { repo, keys } = deps;
  const problems: LogProblem[] = [];
  const add = (problem: ProblemKind, detail: string, at: Partial<Omit<LogProblem, 'problem' | 'detail'>> = {}) =>
    problems.push({ problem, reportId: at.reportId ?? null, index: at.index ?? null, type: at.type ?? null, detail });

  // The latest checkpoint: its signature, then the leaves it covers.
  const head = await repo.latestCheckpoint();
  const size = head ? Number(head.size) : 0;
  if (head) {
    try {
      const opened = openCheckpoint(head.note, keys.verifierKey, keys.origin);
      if (opened.size !== size || opened.rootHash.toString('hex') !== head.root)
        add('log rewritten', `the latest checkpoint's note says size ${opened.size}, the row says ${size}`, {
          index: size,
        });
    } catch (error) {
      add('log rewritten', `the latest checkpoint (size ${size}) does not verify: ${(error as Error).message}`, {
        index: size,
      });
    }
  }

  // Every leaf: contiguous indices, its hash that of its entry, one leaf per row.
  const hashes: Buffer[] = [];
  const byKey = new Map<string, { index: number; entry: Buffer; reportId: string; type: EntryType }>();
  let total = 0;
  for (let start = 0; ; start += PAGE) {
    const rows = await repo.leaves(start, start + PAGE);
    for (const row of rows) {
      const index = Number(row.idx);
      if (index !== total) {
        add('log rewritten', `leaf ${total} is missing (the next stored leaf is ${index})`, { index: total });
        total = index;
      }
      total += 1;
      const entry = Buffer.from(row.entry, 'base64');
      const stored = Buffer.from(row.leafHash, 'hex');
      const at = { index, reportId: row.reportId, type: row.type };
      if (!equalBytes(leafHash(entry), stored))
        add('log rewritten', `leaf ${index}'s hash is not that of its entry`, at);
      hashes[index] = stored;
      let parsed: Pick<EntrySource, 'type' | 'reportId' | 'revision' | 'reviewId' | 'photoId'>;
      try {
        const json = JSON.parse(entry.toString('utf8')) as Record<string, unknown>;
        parsed = {
          type: json.type as EntryType,
          reportId: String(json.reportId),
          revision: (json.revision as number | null) ?? null,
          reviewId: (json.reviewId as number | undefined) ?? null,
          photoId: (json.photoId as string | undefined) ?? null,
        };
      } catch {
        add('log rewritten', `leaf ${index}'s entry is not JSON`, at);
        continue;
      }
      const key = entryKey(parsed);
      if (byKey.has(key))
        add('log rewritten', `leaf ${index} repeats the entry of leaf ${byKey.get(key)!.index} (${key})`, at);
      else byKey.set(key, { index, entry, reportId: row.reportId, type: row.type });
    }
    if (rows.length < PAGE) break;
  }
  if (total < size)
    add('log rewritten', `the latest checkpoint signs ${size} leaves, the log holds ${total}`, { index: total });
  if (total > size && !from) {
    // Leaves appended by an integration that committed after we read the checkpoint are checked next time.
  }

  // Every row: its entry as the rows say now, against its leaf.
  const sources = await repo.storedSources();
  const pending = new Set((await repo.pendingKeys()).map((key) => entryKey(key)));
  const seen = new Set<string>();
  const latestLeaf = new Map<string, number>();
  for (const source of sources) {
    const key = entryKey(source);
    seen.add(key);
    const leaf = byKey.get(key);
    const at = { reportId: source.reportId, type: source.type, index: leaf?.index ?? null };
    if (source.type === 'report' || source.type === 'revision') {
      if (leaf) latestLeaf.set(source.reportId, Math.max(latestLeaf.get(source.reportId) ?? -1, leaf.index));
      if (source.answers === null || source.observedAt === null) {
        add('deleted', `revision ${source.revision} of report ${source.reportId} is gone`, at);
      } else {
        const recomputed = deps.contentHash({
          kind: source.kind,
          centreCode: source.centreCode,
          table: source.table,
          observedAt: source.observedAt.toISOString(),
          answers: source.answers,
          notes: source.notes,
          location:
            source.latitude === null || source.longitude === null
              ? null
              : { lat: source.latitude, lon: source.longitude, accuracy: source.accuracy },
        });
        if (recomputed !== source.contentHash)
          add('changed', `revision ${source.revision}'s content no longer matches its content hash`, at);
      }
    }
    if (!leaf) {
      if (!pending.has(key)) add('missing from the log', `${key} has no leaf`, at);
      continue;
    }
    const expected = entryBytes(source, keys.actorKey);
    if (!equalBytes(expected, leaf.entry))
      add('changed', `${key} differs from its entry: ${differingEntryFields(leaf.entry, expected).join(', ')}`, at);
  }
  for (const [key, leaf] of byKey) {
    if (!seen.has(key))
      add('deleted', `the row of ${key} is gone`, { index: leaf.index, reportId: leaf.reportId, type: leaf.type });
  }
  for (const report of await repo.reportsUnlikeLatest()) {
    add('changed', `report ${report.reportId} differs from its latest revision: ${report.fields.join(', ')}`, {
      reportId: report.reportId,
      type: 'report',
      index: latestLeaf.get(report.reportId) ?? null,
    });
  }

  // The tree, up to the latest checkpoint.
  let checkpoints = 0;
  const signed = hashes.slice(0, size);
  let rootHash: Buffer | null = null;
  const start = from && from.size <= size ? from.size : 0;
  if (start === 0) {
    // Rebuilt from the leaves: every stored node and every checkpoint's root.
    const levels = buildLevels(signed);
    const hashAt = levelsHashAt(levels);
    for (const node of await repo.allNodes()) {
      const mine = levels[node.level]?.[Number(node.idx)];
      if ((Number(node.idx) + 1) * 2 ** node.level > size) continue; // completed after the checkpoint we read
      if (!mine || mine.toString('hex') !== node.hash)
        add('log rewritten', `stored node (${node.level}, ${node.idx}) is not the hash of its leaves`, {
          index: Number(node.idx) * 2 ** node.level,
        });
    }
    rootHash = size > 0 ? await rootOf(size, hashAt) : null;
    for (const checkpoint of await repo.checkpointsAfter(0)) {
      const at = Number(checkpoint.size);
      if (at > size) continue;
      checkpoints += 1;
      try {
        const opened = openCheckpoint(checkpoint.note, keys.verifierKey, keys.origin);
        const root = await rootOf(at, hashAt);
        if (opened.size !== at || !equalBytes(opened.rootHash, root) || checkpoint.root !== root.toString('hex'))
          add('log rewritten', `checkpoint ${at} does not sign the root of the first ${at} leaves`, { index: at });
      } catch (error) {
        add('log rewritten', `checkpoint ${at} does not verify: ${(error as Error).message}`, { index: at });
      }
    }
  } else if (size > 0) {
    // From the verified checkpoint on: the nodes appended since, recomputed from the new leaves over the stored
    // older nodes, the root, the checkpoints since, and the consistency proof from the verified one.
    const stored = await repo.nodes(planNodes([planRoot(start), planRoot(size), ...planConsistency(start, size)]));
    const hashAt: HashAt = (level, index) => {
      const hash = stored.get(`${level}/${index}`);
      if (!hash) throw new Error(`the log has no stored node (${level}, ${index})`);
      return hash;
    };
    try {
      const appended = await appendLeaves(start, signed.slice(start), hashAt);
      const check = await repo.nodes(appended.nodes);
      for (const node of appended.nodes) {
        const mine = check.get(`${node.level}/${node.index}`);
        if (!mine || !equalBytes(mine, node.hash))
          add('log rewritten', `stored node (${node.level}, ${node.index}) is not the hash of its leaves`, {
            index: node.index * 2 ** node.level,
          });
      }
      rootHash = appended.root;
      if (!equalBytes(await rootOf(start, hashAt), from!.root))
        add('log rewritten', `the first ${start} leaves no longer hash to the root verified before`, { index: start });
      const proof = await consistencyProof(start, size, hashAt);
      verifyConsistency(start, size, proof, from!.root, appended.root);
    } catch (error) {
      add('log rewritten', `the log is not consistent with checkpoint ${start}: ${(error as Error).message}`, {
        index: start,
      });
    }
    for (const checkpoint of await repo.checkpointsAfter(start)) {
      const at = Number(checkpoint.size);
      if (at > size) continue;
      checkpoints += 1;
      try {
        openCheckpoint(checkpoint.note, keys.verifierKey, keys.origin);
      } catch (error) {
        add('log rewritten', `checkpoint ${at} does not verify: ${(error as Error).message}`, { index: at });
      }
    }
  }
  if (rootHash && head && rootHash.toString('hex') !== head.root)
    add('log rewritten', `the leaves do not hash to the latest checkpoint's root (size ${size})`, { index: size });

  problems.sort((a, b) => (a.index ?? Number.MAX_SAFE_INTEGER) - (b.index ?? Number.MAX_SAFE_INTEGER));
  const ok = problems.length === 0;
  return {
    ok,
    checked: {
      size,
      leaves: total,
      rows: sources.length,
      checkpoints,
      treeFrom: start,
      rootHash: rootHash ? rootHash.toString('base64') : null,
    },
    problems,
    ...(ok && head ? { head: { size, root: Buffer.from(head.root, 'hex') } } : {}),
  };
}

/** One problem as a line: `changed: report <id>, log index <n> (revision): detail`. */
export function formatProblem(problem: LogProblem): string {
  const report = problem.reportId ? `report ${problem.reportId}` : 'the log';
  const index = problem.index === null ? 'no log index' : `log index ${problem.index}`;
  return `${problem.problem}: ${report}, ${index}${problem.type ? ` (${problem.type})` : ''}: ${problem.detail}`;
}
