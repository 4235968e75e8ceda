// C2SP tlog-tiles arithmetic: canonical paths, the spec's examples of which tiles a size has, tiles as ranges of the
// complete-node store (a level-1 hash is the root of a full level-0 tile), and entry bundles.
import { describe, expect, it } from 'vitest';
import { buildLevels, leafHash, levelsHashAt, rootOf } from '../../src/features/log/merkle.js';
import {
  encodeEntryBundle,
  encodeTileIndex,
  parseEntryBundle,
  parseTilePath,
  tileAvailable,
  tileLeafRange,
  tileNodes,
  tilePath,
  tilesForSize,
  tileWidth,
} from '../../src/features/log/tiles.js';

describe('tlog-tiles › paths', () => {
  it('encodes indices in x-prefixed 3-digit groups (the spec example 1234067 → x001/x234/067)', () => {
    expect(encodeTileIndex(1234067)).toBe('x001/x234/067');
    expect(encodeTileIndex(0)).toBe('000');
    expect(encodeTileIndex(999)).toBe('999');
    expect(encodeTileIndex(1000)).toBe('x001/000');
    expect(tilePath({ level: 2, index: 1234067, width: 256 })).toBe('tile/2/x001/x234/067');
    expect(tilePath({ level: 0, index: 3, width: 17 })).toBe('tile/0/003.p/17');
    expect(tilePath({ level: 'entries', index: 1000, width: 5 })).toBe('tile/entries/x001/000.p/5');
  });

  it('parses exactly the canonical paths', () => {
    expect(parseTilePath('tile/2/x001/x234/067')).toEqual({ level: 2, index: 1234067, width: 256 });
    expect(parseTilePath('tile/entries/x001/000.p/5')).toEqual({ level: 'entries', index: 1000, width: 5 });
    for (const bad of [
      'tile/0/1',
      'tile/0/x000/001',
      'tile/00/000',
      'tile/64/000',
      'tile/0/000.p/0',
      'tile/0/000.p/256',
      'tile/0/000.p/017',
      'tile/0/001/002',
      '/tile/0/000',
      'tile/data/000',
    ]) {
      expect(parseTilePath(bad), bad).toBeNull();
    }
    for (let index = 0; index < 3000; index += 7) {
      expect(parseTilePath(tilePath({ level: 1, index, width: 9 }))).toEqual({ level: 1, index, width: 9 });
    }
  });
});

describe('tlog-tiles › which tiles a tree has', () => {
  const count = (size: number, level: number) => tilesForSize(size).filter((tile) => tile.level === level);

  it('size 70,000: 273 full + one of width 112 at level 0, one full + width 17 at level 1, width 1 at level 2', () => {
    expect(count(70_000, 0)).toHaveLength(274);
    expect(count(70_000, 0).at(-1)).toEqual({ level: 0, index: 273, width: 112 });
    expect(count(70_000, 1)).toEqual([
      { level: 1, index: 0, width: 256 },
      { level: 1, index: 1, width: 17 },
    ]);
    expect(count(70_000, 2)).toEqual([{ level: 2, index: 0, width: 1 }]);
    expect(count(70_000, 3)).toEqual([]);
  });

  it('size 256: a full level-0 tile and a level-1 tile of width 1; size 0: none', () => {
    expect(tilesForSize(256)).toEqual([
      { level: 0, index: 0, width: 256 },
      { level: 1, index: 0, width: 1 },
    ]);
    expect(tilesForSize(0)).toEqual([]);
  });

  it('widths and availability as the tree grows', () => {
    expect(tileWidth(0, 0, 100)).toBe(100);
    expect(tileWidth('entries', 1, 300)).toBe(44);
    expect(tileWidth(0, 2, 300)).toBe(0);
    expect(tileAvailable({ level: 0, index: 0, width: 50 }, 100)).toBe(true);
    expect(tileAvailable({ level: 0, index: 0, width: 101 }, 100)).toBe(false);
    expect(tileAvailable({ level: 0, index: 0, width: 256 }, 255)).toBe(false);
    expect(tileAvailable({ level: 0, index: 0, width: 256 }, 256)).toBe(true);
    expect(tileAvailable({ level: 1, index: 0, width: 1 }, 255)).toBe(false);
  });
});

describe('tlog-tiles › tiles are ranges of the complete-node store', () => {
  it('a level-1 tile hash is the root of the full level-0 tile below it', async () => {
    const leaves = Array.from({ length: 600 }, (_, i) => leafHash(Buffer.from(String(i))));
    const store = levelsHashAt(buildLevels(leaves));
    const [first, second] = tileNodes({ level: 1, index: 0, width: 2 });
    expect(first).toEqual({ level: 8, index: 0 });
    expect(store(8, 1)).toEqual(await rootOf(256, levelsHashAt(buildLevels(leaves.slice(256, 512)))));
    expect(second).toEqual({ level: 8, index: 1 });
    expect(tileNodes({ level: 0, index: 2, width: 3 })).toEqual([
      { level: 0, index: 512 },
      { level: 0, index: 513 },
      { level: 0, index: 514 },
    ]);
    expect(tileLeafRange({ level: 1, index: 0, width: 2 })).toEqual({ start: 0, end: 512 });
    expect(tileLeafRange({ level: 'entries', index: 2, width: 88 })).toEqual({ start: 512, end: 600 });
  });
});

describe('tlog-tiles › entry bundles', () => {
  it('are big-endian uint16 length-prefixed entries, and parse back', () => {
    const entries = [Buffer.from('{"v":1}'), Buffer.alloc(0), Buffer.alloc(300, 7)];
    const bundle = encodeEntryBundle(entries);
    expect(bundle.subarray(0, 11)).toEqual(Buffer.from([0, 7, ...Buffer.from('{"v":1}'), 0, 0]));
    expect(bundle.readUInt16BE(11)).toBe(300);
    expect(parseEntryBundle(bundle)).toEqual(entries);
    expect(() => parseEntryBundle(bundle.subarray(0, -1))).toThrow(RangeError);
    expect(() => encodeEntryBundle([Buffer.alloc(65_536)])).toThrow(RangeError);
  });
});
