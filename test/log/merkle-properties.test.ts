// Properties of the log's Merkle code over many tree sizes (seeded, so a failure replays): every generated inclusion
// and consistency proof verifies; any flipped byte, any changed index or size, a missing or an extra hash is
// refused; appending leaf by leaf stores exactly the complete nodes and gives the same roots as building at once.
import { describe, expect, it } from 'vitest';
import {
  consistencyProofLength,
  EMPTY_ROOT,
  inclusionProofLength,
  TlogError,
  verifyConsistency,
  verifyInclusion,
} from '../../bin/lib/tlog.mjs';
import {
  appendLeaves,
  buildLevels,
  completedNodes,
  consistencyProof,
  type HashAt,
  inclusionProof,
  leafHash,
  levelsHashAt,
  planInclusion,
  planNodes,
  rootFromLeaves,
  rootOf,
} from '../../src/features/log/merkle.js';

/** mulberry32: a small seeded generator, so the sizes and the flipped bytes are the same on every run. */
function random(seed: number) {
  let state = seed;
  return (below: number) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}
const next = random(13);
const MAX = 600;
const leaves = Array.from({ length: MAX }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
const full = levelsHashAt(buildLevels(leaves));
const SIZES = [
  1,
  2,
  3,
  4,
  5,
  7,
  8,
  9,
  255,
  256,
  257,
  511,
  512,
  513,
  MAX,
  ...Array.from({ length: 6 }, () => 1 + next(MAX)),
];

const refused = (check: () => void) => expect(check).toThrow(TlogError);
const flipped = (hash: Buffer) => {
  const copy = Buffer.from(hash);
  const at = next(copy.length);
  copy[at] = (copy[at] ?? 0) ^ (1 << next(8));
  return copy;
};

describe('merkle properties › roots', () => {
  it('rootOf over the store equals the root built from the leaves, for every size 0..600', async () => {
    expect(rootFromLeaves([])).toEqual(EMPTY_ROOT);
    for (let size = 0; size <= MAX; size++) {
      expect(await rootOf(size, full)).toEqual(rootFromLeaves(leaves.slice(0, size)));
    }
  });

  it('appending in random batches stores every complete node once, with the right hash, and the right roots', async () => {
    const stored = new Map<string, Buffer>();
    const hashAt: HashAt = (level, index) => {
      const hash = stored.get(`${level}/${index}`);
      if (!hash) throw new Error(`read a node that is not stored: ${level}/${index}`);
      return hash;
    };
    for (let size = 0; size < MAX; ) {
      const count = Math.min(MAX - size, 1 + next(40));
      const { nodes, root, size: newSize } = await appendLeaves(size, leaves.slice(size, size + count), hashAt);
      expect(nodes.map(({ level, index }) => ({ level, index }))).toEqual(
        Array.from({ length: count }, (_, i) => completedNodes(size + i)).flat(),
      );
      for (const node of nodes) {
        expect(stored.has(`${node.level}/${node.index}`)).toBe(false);
        expect(node.hash).toEqual(full(node.level, node.index));
        stored.set(`${node.level}/${node.index}`, node.hash);
      }
      expect(newSize).toBe(size + count);
      expect(root).toEqual(rootFromLeaves(leaves.slice(0, newSize)));
      size = newSize;
    }
    // A tree of n leaves has 2n - popcount(n) complete nodes.
    expect(stored.size).toBe(2 * MAX - [...MAX.toString(2)].filter((bit) => bit === '1').length);
  });
});

describe('merkle properties › inclusion', () => {
  it.each(SIZES)('size %i: every proof verifies and reads only O(log n) stored nodes', async (size) => {
    const root = await rootOf(size, full);
    for (let index = 0; index < size; index++) {
      const proof = await inclusionProof(index, size, full);
      expect(proof).toHaveLength(inclusionProofLength(index, size));
      verifyInclusion(index, size, leaves[index] as Buffer, proof, root);
      expect(planNodes(planInclusion(index, size)).length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(size + 1)));
    }
  });

  it.each(SIZES)('size %i: a flipped byte, another index or size, a missing or extra hash is refused', async (size) => {
    const root = await rootOf(size, full);
    for (let trial = 0; trial < 25; trial++) {
      const index = next(size);
      const leaf = leaves[index] as Buffer;
      const proof = await inclusionProof(index, size, full);
      proof.forEach((hash, i) => {
        const altered = proof.with(i, flipped(hash));
        refused(() => verifyInclusion(index, size, leaf, altered, root));
      });
      refused(() => verifyInclusion(index, size, flipped(leaf), proof, root));
      refused(() => verifyInclusion(index, size, leaf, proof, flipped(root)));
      if (size > 1) refused(() => verifyInclusion((index + 1) % size, size, leaf, proof, root));
      refused(() => verifyInclusion(size, size, leaf, proof, root));
      if (proof.length > 0) refused(() => verifyInclusion(index, size, leaf, proof.slice(0, -1), root));
      refused(() => verifyInclusion(index, size, leaf, [...proof, root], root));
    }
  });
});

describe('merkle properties › consistency', () => {
  it.each(SIZES)('size %i: the proof from every smaller size verifies', async (size) => {
    const root = await rootOf(size, full);
    for (let m = 1; m <= size; m++) {
      const proof = await consistencyProof(m, size, full);
      expect(proof).toHaveLength(consistencyProofLength(m, size));
      verifyConsistency(m, size, proof, await rootOf(m, full), root);
    }
  });

  it.each(SIZES.filter((size) => size > 1))('size %i: any alteration is refused', async (size) => {
    const root = await rootOf(size, full);
    for (let trial = 0; trial < 25; trial++) {
      const m = 1 + next(size - 1);
      const oldRoot = await rootOf(m, full);
      const proof = await consistencyProof(m, size, full);
      proof.forEach((hash, i) => {
        refused(() => verifyConsistency(m, size, proof.with(i, flipped(hash)), oldRoot, root));
      });
      refused(() => verifyConsistency(m, size, proof, flipped(oldRoot), root));
      refused(() => verifyConsistency(m, size, proof, oldRoot, flipped(root)));
      if (m > 1) refused(() => verifyConsistency(m - 1, size, proof, oldRoot, root));
      refused(() => verifyConsistency(m, size, proof.slice(1), oldRoot, root));
      refused(() => verifyConsistency(m, size, [...proof, root], oldRoot, root));
      refused(() => verifyConsistency(size, m, proof, root, oldRoot));
    }
  });

  it('edge cases: m = n needs an empty proof and equal roots; m = 0 and m > n are refused, and never generated', async () => {
    const root = await rootOf(10, full);
    verifyConsistency(10, 10, [], root, root);
    verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT);
    refused(() => verifyConsistency(10, 10, [root], root, root));
    refused(() => verifyConsistency(10, 10, [], root, flipped(root)));
    refused(() => verifyConsistency(0, 10, [], EMPTY_ROOT, root));
    refused(() => verifyConsistency(11, 10, [], root, root));
    expect(await consistencyProof(10, 10, full)).toEqual([]);
    await expect(consistencyProof(0, 10, full)).rejects.toThrow(RangeError);
    await expect(consistencyProof(11, 10, full)).rejects.toThrow(RangeError);
    await expect(inclusionProof(10, 10, full)).rejects.toThrow(RangeError);
    await expect(inclusionProof(0, 0, full)).rejects.toThrow(RangeError);
  });
});
