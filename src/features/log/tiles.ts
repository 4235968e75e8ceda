// C2SP tlog-tiles (https://c2sp.org/tlog-tiles) arithmetic: tile paths, which tiles a tree size has, which stored
// nodes a hash tile holds, and entry bundles. Tiles have height 8: a tile holds up to 256 hashes, and the i-th hash
// of tile N at tile level L is the complete node (level 8·L, index 256·N + i) of merkle.ts's store — so a hash tile is
// a range read of that store, and an entry bundle a range read of the entries.
import type { NodeRef } from './merkle.js';

/** Tile height: 2^8 = 256 hashes (or entries) in a full tile. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** The largest tile level the spec allows. */
export const MAX_TILE_LEVEL = 63;
/** An entry in a bundle is prefixed by a big-endian uint16 length. */
export const MAX_ENTRY_BYTES = 0xffff;

/** A hash tile (level ≥ 0) or an entry bundle (level "entries"); width 256 for a full tile, 1–255 for a partial one. */
export interface Tile {
  level: number | 'entries';
  index: number;
  width: number;
}

/** N as zero-padded 3-digit path elements, all but the last prefixed with "x": 1234067 → x001/x234/067. */
export function encodeTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError('a tile index is a non-negative integer');
  const groups: string[] = [];
  let rest = index;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/');
}

/** `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`. */
export function tilePath(tile: Tile): string {
  const { level, index, width } = tile;
  if (level !== 'entries' && (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL)) {
    throw new RangeError('a tile level is an integer from 0 to 63');
  }
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new RangeError('a tile width is 1 to 256');
  const partial = width < TILE_WIDTH ? `.p/${width}` : '';
  return `tile/${level}/${encodeTileIndex(index)}${partial}`;
}

const TILE_PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/**
 * Parses a tile path (with or without the leading "tile/" kept; a leading "/" is not accepted). Only the canonical
 * spelling is accepted — no leading zero group ("x000/001"), level ≤ 63, width 1–255 — so that one tile has one URL
 * and a cache cannot be filled with aliases. Returns null for anything else.
 */
export function parseTilePath(path: string): Tile | null {
  const match = TILE_PATH.exec(path);
  if (!match) return null;
  const [, levelText, indexText, widthText] = match as unknown as [string, string, string, string | undefined];
  const level = levelText === 'entries' ? 'entries' : Number(levelText);
  if (level !== 'entries' && level > MAX_TILE_LEVEL) return null;
  const index = Number(indexText.replaceAll('x', '').replaceAll('/', ''));
  if (!Number.isSafeInteger(index) || encodeTileIndex(index) !== indexText) return null;
  if (widthText === undefined) return { level, index, width: TILE_WIDTH };
  const width = Number(widthText);
  return width < TILE_WIDTH ? { level, index, width } : null;
}

/** The number of complete nodes at tree level 8·L in a tree of `size` leaves: floor(size / 256^L). */
function hashesAtTileLevel(level: number, size: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * The width of tile `index` at `level` (entries: as level 0) in the tree of `size` leaves, as of that size: 256 when
 * full, 1–255 when it is the partial rightmost tile, 0 when the tile does not exist yet.
 */
export function tileWidth(level: number | 'entries', index: number, size: number): number {
  const count = hashesAtTileLevel(level === 'entries' ? 0 : level, size);
  return Math.max(0, Math.min(TILE_WIDTH, count - index * TILE_WIDTH));
}

/**
 * Whether a log whose current tree has `size` leaves can serve `tile`: a full tile once complete (immutable from
 * then on), a partial tile of width W while or after the tree had W hashes in it (the partial tile for any smaller
 * size is a prefix of the current one and never changes either).
 */
export function tileAvailable(tile: Tile, size: number): boolean {
  return tile.width <= tileWidth(tile.level, tile.index, size);
}

/**
 * Every hash tile of the tree of `size` leaves (entry bundles: the same as level 0): per level, the full tiles then
 * the partial one, if any, as the spec's example (size 70,000: 273 full level-0 tiles and one of width 112, one
 * full level-1 tile and one of width 17, one level-2 tile of width 1).
 */
export function tilesForSize(size: number): Tile[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('a tree size is a non-negative integer');
  const tiles: Tile[] = [];
  for (let level = 0; hashesAtTileLevel(level, size) > 0; level++) {
    const count = hashesAtTileLevel(level, size);
    const full = Math.floor(count / TILE_WIDTH);
    for (let index = 0; index < full; index++) tiles.push({ level, index, width: TILE_WIDTH });
    if (count % TILE_WIDTH > 0) tiles.push({ level, index: full, width: count % TILE_WIDTH });
  }
  return tiles;
}

/** The stored complete nodes a hash tile is made of, in order (entry bundles: the leaf range, as level-0 nodes). */
export function tileNodes(tile: Tile): NodeRef[] {
  const level = tile.level === 'entries' ? 0 : tile.level * TILE_HEIGHT;
  return Array.from({ length: tile.width }, (_, i) => ({ level, index: tile.index * TILE_WIDTH + i }));
}

/** The leaf index range [start, end) an entry bundle (or level-0 tile) covers. */
export function tileLeafRange(tile: Tile): { start: number; end: number } {
  const span = TILE_WIDTH ** (tile.level === 'entries' ? 0 : tile.level);
  const start = tile.index * TILE_WIDTH * span;
  return { start, end: start + tile.width * span };
}

/** An entry bundle: each entry as a big-endian uint16 length followed by its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    if (entry.length > MAX_ENTRY_BYTES) throw new RangeError(`an entry is at most ${MAX_ENTRY_BYTES} bytes`);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(entry.length);
    parts.push(length, entry);
  }
  return Buffer.concat(parts);
}

/** Splits an entry bundle back into its entries (RangeError when truncated). */
export function parseEntryBundle(bundle: Uint8Array): Buffer[] {
  const bytes = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const entries: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + 2 > bytes.length) throw new RangeError('truncated entry bundle');
    const length = bytes.readUInt16BE(at);
    if (at + 2 + length > bytes.length) throw new RangeError('truncated entry bundle');
    entries.push(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}
