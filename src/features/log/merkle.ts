// The Merkle tree of the log, exactly RFC 9162 §2.1 (SHA-256, leaf prefix 0x00, node prefix 0x01): roots and proof
// GENERATION over a store of complete-subtree hashes. Verification lives in bin/lib/tlog.mjs (shared with the
// offline verifier, which runs without a build); the hash primitives are re-exported from there so that one
// definition of a leaf and a node exists.
//
// The store. The log keeps the hash of every COMPLETE subtree: node (level, index) is MTH of the 2^level leaves
// starting at leaf index·2^level. Such a node never changes once its last leaf is appended, so the table is
// append-only, like the log. Any other hash the RFC needs (a root, or the "ephemeral" right-border node of a proof)
// is the MTH of a range [start, end) whose start is a multiple of the largest power of two not above its length —
// the RFC's recursion only ever produces such ranges — and that MTH is the right fold of the range's binary
// decomposition into complete nodes: [start, end) = 2^a + 2^b + … (a > b > …), hash = H(n_a, H(n_b, …)).
//
// The algorithm. Every function first PLANS (pure arithmetic: which complete nodes, combined how) and then fetches
// the nodes (`hashAt`, sync or async) — the plan's node list lets a database fetch everything in one query
// (`planNodes`, then a Map-backed hashAt). An inclusion proof needs O(log n) nodes: along the path from the leaf,
// every sibling is complete except at most one right-border node, itself a fold of ≤ log n complete nodes.
import {
  consistencyProofLength,
  EMPTY_ROOT,
  inclusionProofLength,
  leafHash,
  nodeHash,
} from '../../../bin/lib/tlog.mjs';

export { EMPTY_ROOT, leafHash, nodeHash };

/** The hash of the complete subtree of 2^level leaves starting at leaf index·2^level. */
export type HashAt = (level: number, index: number) => Promise<Buffer> | Buffer;

/** A complete subtree: 2^level leaves from leaf index·2^level. */
export interface NodeRef {
  level: number;
  index: number;
}

/** A complete subtree and its hash, as the store keeps it. */
export interface StoredNode extends NodeRef {
  hash: Buffer;
}

/**
 * One hash of a proof or a root, as the complete nodes it folds (left to right; a single node when the range is
 * itself complete).
 */
export type PlannedHash = NodeRef[];

function assertCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer`);
}

/** The largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The complete nodes covering [start, end), left to right: the binary decomposition of end - start from start. */
export function rangeNodes(start: number, end: number): PlannedHash {
  const nodes: NodeRef[] = [];
  let at = start;
  while (at < end) {
    let size = 1;
    let level = 0;
    while (size * 2 <= end - at && at % (size * 2) === 0) {
      size *= 2;
      level++;
    }
    nodes.push({ level, index: at / size });
    at += size;
  }
  return nodes;
}

/** The plan of the root of a tree of `size` leaves (size 0: no nodes, the root is EMPTY_ROOT). */
export function planRoot(size: number): PlannedHash {
  assertCount(size, 'size');
  return rangeNodes(0, size);
}

/** RFC 9162 §2.1.3.1 PATH(m, D[start:end]), as ranges turned into node plans; leaf-to-root order. */
function pathPlan(m: number, start: number, end: number): PlannedHash[] {
  if (end - start === 1) return [];
  const k = splitPoint(end - start);
  return m < start + k
    ? [...pathPlan(m, start, start + k), rangeNodes(start + k, end)]
    : [...pathPlan(m, start + k, end), rangeNodes(start, start + k)];
}

/** RFC 9162 §2.1.4.1 SUBPROOF(m, D[start:end], b), m being the absolute size of the old tree. */
function subproofPlan(m: number, start: number, end: number, complete: boolean): PlannedHash[] {
  if (m === end) return complete ? [] : [rangeNodes(start, end)];
  const k = splitPoint(end - start);
  return m <= start + k
    ? [...subproofPlan(m, start, start + k, complete), rangeNodes(start + k, end)]
    : [...subproofPlan(m, start + k, end, false), rangeNodes(start, start + k)];
}

/** The plan of the inclusion proof of leaf `index` in the tree of `size` leaves (RangeError unless index < size). */
export function planInclusion(index: number, size: number): PlannedHash[] {
  assertCount(index, 'index');
  assertCount(size, 'size');
  if (index >= size) throw new RangeError(`index ${index} is not in a tree of size ${size}`);
  const plan = pathPlan(index, 0, size);
  if (plan.length !== inclusionProofLength(index, size)) throw new Error('inclusion plan of the wrong length');
  return plan;
}

/**
 * The plan of the consistency proof from size m to size n. RangeError unless 0 < m ≤ n: RFC 9162 defines no proof
 * from the empty tree (the verifier refuses one), and m = n gives the empty proof.
 */
export function planConsistency(m: number, n: number): PlannedHash[] {
  assertCount(m, 'old size');
  assertCount(n, 'new size');
  if (m === 0 || m > n) throw new RangeError(`no consistency proof from size ${m} to size ${n}`);
  const plan = subproofPlan(m, 0, n, true);
  if (plan.length !== consistencyProofLength(m, n)) throw new Error('consistency plan of the wrong length');
  return plan;
}

/** Every distinct node a set of plans reads, for fetching them at once. */
export function planNodes(plans: readonly PlannedHash[]): NodeRef[] {
  const seen = new Map<string, NodeRef>();
  for (const plan of plans) for (const node of plan) seen.set(`${node.level}/${node.index}`, node);
  return [...seen.values()];
}

/** Folds one planned hash: H(n0, H(n1, … H(n_{k-2}, n_{k-1}))); the empty plan is the empty tree's root. */
async function foldPlan(plan: PlannedHash, hashAt: HashAt): Promise<Buffer> {
  const hashes = await Promise.all(plan.map((node) => hashAt(node.level, node.index)));
  return foldHashes(hashes);
}

function foldHashes(hashes: readonly Buffer[]): Buffer {
  return (
    hashes.reduceRight<Buffer | undefined>((right, left) => (right ? nodeHash(left, right) : left), undefined) ??
    EMPTY_ROOT
  );
}

/** The root hash of the tree of `size` leaves. */
export async function rootOf(size: number, hashAt: HashAt): Promise<Buffer> {
  return foldPlan(planRoot(size), hashAt);
}

/** The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves. */
export async function inclusionProof(index: number, size: number, hashAt: HashAt): Promise<Buffer[]> {
  return Promise.all(planInclusion(index, size).map((plan) => foldPlan(plan, hashAt)));
}

/** The RFC 9162 consistency proof from the tree of m leaves to the tree of n leaves (0 < m ≤ n). */
export async function consistencyProof(m: number, n: number, hashAt: HashAt): Promise<Buffer[]> {
  return Promise.all(planConsistency(m, n).map((plan) => foldPlan(plan, hashAt)));
}

/**
 * The complete nodes that appending leaf `index` completes, bottom-up: (0, index), then (l, (index+1)/2^l - 1) for
 * every level l where index+1 is a multiple of 2^l. Node (l, j) is H(node (l-1, 2j), node (l-1, 2j+1)).
 */
export function completedNodes(index: number): NodeRef[] {
  assertCount(index, 'index');
  const nodes: NodeRef[] = [{ level: 0, index }];
  for (let size = 2, level = 1; (index + 1) % size === 0; size *= 2, level++) {
    nodes.push({ level, index: (index + 1) / size - 1 });
  }
  return nodes;
}

/**
 * Appends leaves to a tree of `size` leaves: the hashes of every node the new leaves complete (to store), and the
 * new root. `hashAt` is read only for nodes of the old tree (the left siblings on the way up), never for new ones.
 */
export async function appendLeaves(
  size: number,
  newLeafHashes: readonly Buffer[],
  hashAt: HashAt,
): Promise<{ nodes: StoredNode[]; root: Buffer; size: number }> {
  assertCount(size, 'size');
  const fresh = new Map<string, Buffer>();
  const lookup = (level: number, index: number) => fresh.get(`${level}/${index}`) ?? hashAt(level, index);
  const nodes: StoredNode[] = [];
  for (const [offset, leaf] of newLeafHashes.entries()) {
    if (leaf.length !== 32) throw new RangeError('a leaf hash is 32 bytes');
    for (const node of completedNodes(size + offset)) {
      const hash =
        node.level === 0
          ? leaf
          : nodeHash(await lookup(node.level - 1, 2 * node.index), await lookup(node.level - 1, 2 * node.index + 1));
      fresh.set(`${node.level}/${node.index}`, hash);
      nodes.push({ ...node, hash });
    }
  }
  const newSize = size + newLeafHashes.length;
  return { nodes, root: await rootOf(newSize, lookup), size: newSize };
}

/** Every complete node of a tree held in memory: levels[l][j] is node (l, j). For tests, tools and small trees. */
export function buildLevels(leafHashes: readonly Buffer[]): Buffer[][] {
  const levels: Buffer[][] = [[...leafHashes]];
  for (let below = [...leafHashes]; below.length >= 2; ) {
    const level: Buffer[] = [];
    for (const [j, left] of below.entries()) {
      const right = below[j + 1];
      if (j % 2 === 0 && right) level.push(nodeHash(left, right));
    }
    levels.push(level);
    below = level;
  }
  return levels;
}

/** A synchronous HashAt over levels from buildLevels (throws for a node the tree does not have). */
export function levelsHashAt(levels: readonly Buffer[][]): HashAt {
  return (level, index) => {
    const hash = levels[level]?.[index];
    if (hash === undefined) throw new RangeError(`no complete node (${level}, ${index})`);
    return hash;
  };
}

/** The RFC 9162 root of a list of leaf hashes (MTH over D[n] given each leaf's hash). */
export function rootFromLeaves(leafHashes: readonly Buffer[]): Buffer {
  const at = levelsHashAt(buildLevels(leafHashes));
  return foldHashes(planRoot(leafHashes.length).map((node) => at(node.level, node.index) as Buffer));
}
