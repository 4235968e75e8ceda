// @ts-check
// The verification half of Testigo's transparency log, in one dependency-free ES module (node: built-ins only) so
// that `testigo-verify` runs from a checkout without a build, and the server and its tests import the very same
// functions (types in tlog.d.mts): RFC 9162 §2.1 hashing and proof verification, C2SP signed-note verifier keys and
// note opening, C2SP tlog-checkpoint parsing, and Testigo's signed promises of inclusion.
// Every check throws a TlogError saying what is wrong; nothing here returns "false" for a forged input.
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { TextDecoder } from 'node:util';

/** Why a proof, key, note, checkpoint or promise was refused. */
export class TlogError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'TlogError';
  }
}

/** @param {string} message @returns {never} */
function fail(message) {
  throw new TlogError(message);
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 9162 §2.1 hashes

/** SHA-256 output size: every leaf, node and root hash is this long. */
export const HASH_SIZE = 32;

/** @param {...Uint8Array} parts */
function sha256(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** MTH({}) = SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT = sha256();

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ entry). @param {Uint8Array} entry */
export function leafHash(entry) {
  return sha256(LEAF_PREFIX, entry);
}

/** RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 ‖ left ‖ right). @param {Uint8Array} left @param {Uint8Array} right */
export function nodeHash(left, right) {
  return sha256(NODE_PREFIX, left, right);
}

/** Constant-shape byte comparison (lengths first). @param {Uint8Array} a @param {Uint8Array} b */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= /** @type {number} */ (a[i]) ^ /** @type {number} */ (b[i]);
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Tree arithmetic. Sizes and indices are JavaScript numbers (safe integers, < 2^53); halving uses division, never the
// 32-bit bitwise operators, so trees beyond 2^32 leaves stay correct.

/** @param {unknown} value @param {string} what @returns {asserts value is number} */
function assertCount(value, what) {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(`${what} must be a non-negative integer, got ${String(value)}`);
  }
}

/** @param {number} n */
function isPowerOfTwo(n) {
  let v = n;
  while (v > 1 && v % 2 === 0) v /= 2;
  return v === 1;
}

/**
 * How many hashes the RFC 9162 verification loop consumes from (fn, sn) until sn reaches 0: the same walk as in
 * rootFromInclusionProof and verifyConsistency, without the hashing, so the expected length of a proof is known
 * before any hash is computed.
 * @param {number} fn @param {number} sn
 */
function pathLength(fn, sn) {
  let count = 0;
  for (let at = { fn, sn, left: false }; at.sn > 0; at = step(at.fn, at.sn)) count++;
  return count;
}

/**
 * One step of the RFC 9162 verification loops (§2.1.3.2 step 3, §2.1.4.2 step 6) at (fn, sn): whether the next proof
 * hash is a LEFT sibling (LSB(fn) set, or fn = sn), and fn, sn after the step's right shifts.
 * @param {number} fn @param {number} sn @returns {{ left: boolean, fn: number, sn: number }}
 */
function step(fn, sn) {
  const left = fn % 2 === 1 || fn === sn;
  let f = fn;
  let s = sn;
  if (left) {
    while (f % 2 === 0 && f !== 0) {
      f /= 2;
      s = Math.floor(s / 2);
    }
  }
  return { left, fn: Math.floor(f / 2), sn: Math.floor(s / 2) };
}

/**
 * The number of hashes in a correct inclusion proof of leaf `index` in a tree of `size` leaves (index < size).
 * @param {number} index @param {number} size
 */
export function inclusionProofLength(index, size) {
  assertCount(index, 'index');
  assertCount(size, 'size');
  if (index >= size) fail(`index ${index} is not in a tree of size ${size}`);
  return pathLength(index, size - 1);
}

/**
 * The number of hashes in a correct consistency proof from size m to size n (0 < m ≤ n): the walk of RFC 9162
 * §2.1.4.2 from the last leaf of the old tree, less the old root itself when m is a power of two.
 * @param {number} m @param {number} n
 */
export function consistencyProofLength(m, n) {
  assertCount(m, 'old size');
  assertCount(n, 'new size');
  if (m === 0 || m > n) fail(`no consistency proof exists from size ${m} to size ${n}`);
  if (m === n) return 0;
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return pathLength(fn, sn) + (isPowerOfTwo(m) ? 0 : 1);
}

/** @param {unknown} hash @param {string} what @returns {asserts hash is Uint8Array} */
function assertHash(hash, what) {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    fail(`${what} must be a ${HASH_SIZE}-byte hash`);
  }
}

/** @param {unknown} proof @returns {asserts proof is Uint8Array[]} */
function assertProof(proof) {
  if (!Array.isArray(proof)) fail('the proof must be a list of hashes');
  proof.forEach((hash, i) => assertHash(hash, `proof[${i}]`));
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 9162 §2.1.3.2: verifying an inclusion proof

/**
 * The root that an inclusion proof of `leaf` at `index` in a tree of `size` leaves leads to (RFC 9162 §2.1.3.2 steps
 * 1–3 and the sn = 0 half of step 4). Refuses an index outside the tree, a proof of the wrong length and malformed
 * hashes; comparing the result with a trusted root is the caller's step (see verifyInclusion).
 * @param {number} index @param {number} size @param {Uint8Array} leaf @param {readonly Uint8Array[]} proof
 * @returns {Buffer}
 */
export function rootFromInclusionProof(index, size, leaf, proof) {
  assertCount(index, 'index');
  assertCount(size, 'size');
  if (index >= size) fail(`index ${index} is not in a tree of size ${size}`);
  assertHash(leaf, 'the leaf hash');
  assertProof(proof);
  const want = inclusionProofLength(index, size);
  if (proof.length !== want) fail(`the inclusion proof has ${proof.length} hashes, expected ${want}`);
  let at = { fn: index, sn: size - 1, left: false };
  let r = Buffer.from(leaf);
  for (const p of proof) {
    if (at.sn === 0) fail('the inclusion proof is too long');
    at = step(at.fn, at.sn);
    r = at.left ? nodeHash(p, r) : nodeHash(r, p);
  }
  const sn = at.sn;
  if (sn !== 0) fail('the inclusion proof is too short');
  return r;
}

/**
 * Checks that `leaf` is the leaf hash at `index` of the tree of `size` leaves whose root is `root`.
 * @param {number} index @param {number} size @param {Uint8Array} leaf @param {readonly Uint8Array[]} proof
 * @param {Uint8Array} root
 */
export function verifyInclusion(index, size, leaf, proof, root) {
  const computed = rootFromInclusionProof(index, size, leaf, proof);
  if (!(root instanceof Uint8Array) || !equalBytes(computed, root)) {
    fail(`the inclusion proof leads to root ${computed.toString('base64')}, not the one given`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 9162 §2.1.4.2: verifying a consistency proof

/**
 * Checks that the tree of `size1` leaves with root `root1` is a prefix of the tree of `size2` leaves with root
 * `root2`. Edge cases, decided as transparency-dev/merkle's vectors expect:
 * - size1 > size2: refused;
 * - size1 = size2: the proof must be empty and the roots equal (and, for size 0, be the empty tree's root);
 * - size1 = 0 < size2: refused — every tree extends the empty tree, so such a "proof" proves nothing; a client that
 *   trusted an empty checkpoint needs no proof (testigo-verify says so itself);
 * - otherwise the proof must have exactly the RFC's length, and every hash 32 bytes.
 * @param {number} size1 @param {number} size2 @param {readonly Uint8Array[]} proof
 * @param {Uint8Array} root1 @param {Uint8Array} root2
 */
export function verifyConsistency(size1, size2, proof, root1, root2) {
  assertCount(size1, 'old size');
  assertCount(size2, 'new size');
  if (!Array.isArray(proof)) fail('the proof must be a list of hashes');
  if (!(root1 instanceof Uint8Array) || !(root2 instanceof Uint8Array)) fail('both roots must be byte strings');
  if (size1 > size2) fail(`the old size ${size1} is larger than the new size ${size2}`);
  if (size1 === size2) {
    if (proof.length > 0) fail('trees of the same size need an empty consistency proof');
    if (size1 === 0 && !equalBytes(root1, EMPTY_ROOT)) fail('the root of an empty tree must be SHA-256("")');
    if (!equalBytes(root1, root2)) fail('two trees of the same size have different roots');
    return;
  }
  if (size1 === 0) fail('a consistency proof from the empty tree proves nothing');
  assertProof(proof);
  assertHash(root1, 'the old root');
  assertHash(root2, 'the new root');
  const want = consistencyProofLength(size1, size2);
  if (proof.length !== want) fail(`the consistency proof has ${proof.length} hashes, expected ${want}`);

  // Step 2: when size1 is a power of two, the old root is itself the first node of the path.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  // Steps 3–4.
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = Buffer.from(/** @type {Uint8Array} */ (path[0]));
  let sr = fr;
  // Step 6.
  let at = { fn, sn, left: false };
  for (const c of path.slice(1)) {
    if (at.sn === 0) fail('the consistency proof is too long');
    at = step(at.fn, at.sn);
    if (at.left) fr = nodeHash(c, fr);
    sr = at.left ? nodeHash(c, sr) : nodeHash(sr, c);
  }
  // Step 7.
  if (at.sn !== 0) fail('the consistency proof is too short');
  if (!equalBytes(fr, root1)) fail('the consistency proof does not lead to the old root');
  if (!equalBytes(sr, root2)) fail('the consistency proof does not lead to the new root');
}

// ---------------------------------------------------------------------------------------------------------------
// Strict base64 (RFC 4648 §4, padded, canonical): Buffer.from(…, 'base64') silently skips junk, which a verifier must
// not do — one altered character must never decode to the same bytes.

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard padded base64, refusing anything else (whitespace, URL alphabet, missing padding, non-zero
 * trailing bits).
 * @param {unknown} text @param {string} [what] @returns {Buffer}
 */
export function decodeBase64(text, what = 'value') {
  if (typeof text !== 'string' || !BASE64.test(text)) fail(`${what} is not standard base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) fail(`${what} is not canonical base64`);
  return bytes;
}

/** @param {unknown} text @param {string} what */
export function decodeHash(text, what) {
  const bytes = decodeBase64(text, what);
  if (bytes.length !== HASH_SIZE) fail(`${what} must decode to ${HASH_SIZE} bytes, got ${bytes.length}`);
  return bytes;
}

// ---------------------------------------------------------------------------------------------------------------
// C2SP signed-note keys (https://c2sp.org/signed-note), Ed25519 only (signature type 0x01).

/** The signature type byte of Ed25519 in signed notes. */
export const ED25519_TYPE = 0x01;

/**
 * A key name: non-empty, no Unicode space (Go's unicode.IsSpace, which includes U+0085), no "+".
 * @param {unknown} name @returns {name is string}
 */
export function isValidKeyName(name) {
  return typeof name === 'string' && name.length > 0 && !/[\s\u0085+]/u.test(name) && !/[\uD800-\uDFFF]/u.test(name);
}

/**
 * The C2SP key ID of an Ed25519 key: the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key).
 * @param {string} name @param {Uint8Array} publicKey @returns {Buffer}
 */
export function keyId(name, publicKey) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) fail('an Ed25519 public key is 32 bytes');
  return sha256(Buffer.from(`${name}\n`, 'utf8'), Uint8Array.of(ED25519_TYPE), publicKey).subarray(0, 4);
}

/**
 * The verifier key text `<name>+<8 hex key id>+<base64(0x01 ‖ public key)>`.
 * @param {string} name @param {Uint8Array} publicKey
 */
export function formatVerifierKey(name, publicKey) {
  if (!isValidKeyName(name)) fail(`invalid key name ${JSON.stringify(name)}`);
  const encoded = Buffer.concat([Uint8Array.of(ED25519_TYPE), publicKey]).toString('base64');
  return `${name}+${keyId(name, publicKey).toString('hex')}+${encoded}`;
}

/** @typedef {{ name: string, keyId: Buffer, keyIdHex: string, publicKey: Buffer, text: string, keyObject: import('node:crypto').KeyObject }} VerifierKey */

/**
 * Splits a key text at its first `count - 1` plus signs (the base64 key at the end may itself contain "+"), as Go's
 * note package does; the last part is undefined when there are fewer.
 * @param {string} text @param {number} count @returns {string[]}
 */
export function splitKeyText(text, count) {
  const parts = [];
  let rest = text;
  for (let i = 1; i < count; i++) {
    const plus = rest.indexOf('+');
    if (plus < 0) return parts;
    parts.push(rest.slice(0, plus));
    rest = rest.slice(plus + 1);
  }
  parts.push(rest);
  return parts;
}

/** @param {Uint8Array} publicKey */
function ed25519PublicKeyObject(publicKey) {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
    format: 'jwk',
  });
}

/**
 * Parses a verifier key text (surrounding whitespace allowed, as in a file), checking that its key ID is the one
 * computed from its name and public key.
 * @param {string} text @returns {VerifierKey}
 */
export function parseVerifierKey(text) {
  if (typeof text !== 'string') fail('a verifier key is text');
  const trimmed = text.trim();
  const [name, idHex, encoded] = splitKeyText(trimmed, 3);
  if (encoded === undefined) fail('a verifier key is <name>+<key id>+<key>');
  if (!isValidKeyName(name)) fail(`invalid key name ${JSON.stringify(name)}`);
  if (!/^[0-9a-f]{8}$/.test(idHex)) fail('the key id must be 8 lowercase hex digits');
  const raw = decodeBase64(encoded, 'the verifier key');
  if (raw[0] !== ED25519_TYPE) fail('only Ed25519 verifier keys (type 0x01) are supported');
  if (raw.length !== 33) fail('an Ed25519 verifier key is 0x01 followed by 32 bytes');
  const publicKey = raw.subarray(1);
  const id = keyId(name, publicKey);
  if (id.toString('hex') !== idHex) fail('the key id does not match the name and public key');
  let keyObject;
  try {
    keyObject = ed25519PublicKeyObject(publicKey);
  } catch {
    fail('the public key is not a valid Ed25519 point');
  }
  return { name, keyId: id, keyIdHex: idHex, publicKey, text: trimmed, keyObject };
}

/** @param {VerifierKey | string} key @returns {VerifierKey} */
function asVerifierKey(key) {
  return typeof key === 'string' ? parseVerifierKey(key) : key;
}

/** @param {VerifierKey} key @param {Uint8Array} message @param {Uint8Array} signature */
function ed25519Verify(key, message, signature) {
  return signature.length === 64 && cryptoVerify(null, message, key.keyObject, signature);
}

// ---------------------------------------------------------------------------------------------------------------
// C2SP signed notes

/** Notes larger than this are refused before parsing (a checkpoint is ~200 bytes). */
export const MAX_NOTE_BYTES = 1 << 20;
/** At most this many signature lines (the spec asks verifiers to accept at least 16; Go's note package stops at 100). */
export const MAX_SIGNATURES = 100;

const SIGNATURE_PREFIX = '\u2014 ';

/**
 * Whether a string may appear in a signed note: no ASCII control character other than newline, no unpaired
 * surrogate (which UTF-8 cannot carry).
 * @param {string} text
 */
export function isNoteText(text) {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a) return false;
  }
  return !/[\uD800-\uDFFF]/u.test(text);
}

/** @typedef {{ name: string, keyIdHex: string, base64: string }} NoteSignature */
/** @typedef {{ text: string, verified: NoteSignature[], unverified: NoteSignature[] }} OpenedNote */

/**
 * Opens a signed note (C2SP signed-note), checking its signatures against `key`, as Go's note.Open does: the text is
 * everything up to the last blank line (its final newline included); each signature line is `— <name> <base64(key
 * id ‖ signature)>`; signatures from other keys are ignored (listed as unverified); a signature by `key` that fails
 * refuses the whole note, and so does a note with no valid signature by `key`.
 * @param {string | Uint8Array} note @param {VerifierKey | string} key @returns {OpenedNote}
 */
export function openNote(note, key) {
  const verifier = asVerifierKey(key);
  const bytes = typeof note === 'string' ? Buffer.from(note, 'utf8') : Buffer.from(note);
  if (bytes.length > MAX_NOTE_BYTES) fail(`the note is larger than ${MAX_NOTE_BYTES} bytes`);
  let message;
  try {
    message = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    fail('the note is not valid UTF-8');
  }
  if (!isNoteText(message)) fail('the note contains a control character other than newline');
  const split = message.lastIndexOf('\n\n');
  if (split < 0) fail('the note has no signature block (no blank line)');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) fail('the signature block must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) fail(`the note has more than ${MAX_SIGNATURES} signatures`);
  const textBytes = Buffer.from(text, 'utf8');
  /** @type {NoteSignature[]} */
  const verified = [];
  /** @type {NoteSignature[]} */
  const unverified = [];
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_PREFIX)) fail('a signature line must start with "— "');
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const encoded = space < 0 ? '' : rest.slice(space + 1);
    if (!isValidKeyName(name) || encoded === '') fail('malformed signature line');
    const raw = decodeBase64(encoded, 'a signature');
    if (raw.length < 5) fail('a signature is a 4-byte key id followed by the signature');
    const keyIdHex = raw.subarray(0, 4).toString('hex');
    const signature = { name, keyIdHex, base64: encoded };
    if (name !== verifier.name || keyIdHex !== verifier.keyIdHex) {
      if (!unverified.some((s) => s.name === name && s.base64 === encoded)) unverified.push(signature);
      continue;
    }
    if (verified.length > 0) continue; // a repeated signature by the same key, as Go's note.Open drops it
    if (!ed25519Verify(verifier, textBytes, raw.subarray(4))) fail(`invalid signature by ${name}+${keyIdHex}`);
    verified.push(signature);
  }
  if (verified.length === 0) fail(`the note is not signed by ${verifier.name}+${verifier.keyIdHex}`);
  return { text, verified, unverified };
}

// ---------------------------------------------------------------------------------------------------------------
// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint)

/** @typedef {{ origin: string, size: number, rootHash: Buffer, extensions: string[] }} Checkpoint */

/**
 * Parses a checkpoint body: origin, decimal size (no leading zero), base64 root hash, then optional non-empty
 * extension lines, each line ending in a newline.
 * @param {string} text @returns {Checkpoint}
 */
export function parseCheckpoint(text) {
  if (typeof text !== 'string' || !text.endsWith('\n')) fail('a checkpoint body ends with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) fail('a checkpoint has at least three lines: origin, size, root hash');
  const [origin, sizeText, rootText, ...extensions] = /** @type {[string, string, string, ...string[]]} */ (lines);
  if (origin === '') fail('the checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) fail('the checkpoint size is not a decimal number without leading zero');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail('the checkpoint size is too large');
  const rootHash = decodeHash(rootText, 'the checkpoint root hash');
  if (extensions.some((line) => line === '')) fail('checkpoint extension lines must not be empty');
  return { origin, size, rootHash, extensions };
}

/**
 * Opens a signed checkpoint with the log's verifier key: the note's signature, then its body. The origin must be the
 * key's name (Testigo names its key after its origin) unless another is given.
 * @param {string | Uint8Array} note @param {VerifierKey | string} key @param {string} [origin]
 * @returns {Checkpoint & { note: OpenedNote }}
 */
export function openCheckpoint(note, key, origin) {
  const verifier = asVerifierKey(key);
  const opened = openNote(note, verifier);
  const checkpoint = parseCheckpoint(opened.text);
  const expected = origin ?? verifier.name;
  if (checkpoint.origin !== expected) {
    fail(`the checkpoint is for ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(expected)}`);
  }
  return { ...checkpoint, note: opened };
}

// ---------------------------------------------------------------------------------------------------------------
// Signed promises of inclusion (Testigo's analogue of a CT SCT)

/** The first line of the signed message, naming the format and its version. */
export const PROMISE_CONTEXT = 'testigo-promise/v1';

/** @typedef {{ leafHash: string, timestamp: number, mergeDelayMs: number, keyId: string, signature: string }} InclusionPromise */

/**
 * The exact bytes a promise's Ed25519 signature covers:
 * `testigo-promise/v1\n<origin>\n<timestamp>\n<mergeDelayMs>\n<base64 leaf hash>\n` (UTF-8). The context line keeps a
 * promise signature from ever being mistaken for a note signature (a note text is never signed with this prefix by
 * a Testigo log, whose only note is its checkpoint, which starts with the origin).
 * @param {string} origin @param {Uint8Array} leaf @param {number} timestamp @param {number} mergeDelayMs
 */
export function promiseMessage(origin, leaf, timestamp, mergeDelayMs) {
  if (typeof origin !== 'string' || origin === '' || origin.includes('\n')) fail('invalid origin');
  assertHash(leaf, 'the leaf hash');
  assertCount(timestamp, 'the timestamp');
  assertCount(mergeDelayMs, 'the merge delay');
  const b64 = Buffer.from(leaf).toString('base64');
  return Buffer.from(`${PROMISE_CONTEXT}\n${origin}\n${timestamp}\n${mergeDelayMs}\n${b64}\n`, 'utf8');
}

/**
 * Checks a promise: its fields are well formed, it names the key's id, and its signature by that key covers the
 * origin, timestamp, merge delay and leaf hash. Returns the moment (ms since the epoch) by which the leaf must be in
 * a checkpoint.
 * @param {VerifierKey | string} key @param {string} origin @param {InclusionPromise} promise @returns {number}
 */
export function verifyPromise(key, origin, promise) {
  const verifier = asVerifierKey(key);
  if (typeof promise !== 'object' || promise === null) fail('a promise is an object');
  const { leafHash: leafText, timestamp, mergeDelayMs, keyId: id, signature } = promise;
  const leaf = decodeHash(leafText, 'the promised leaf hash');
  assertCount(timestamp, 'the promise timestamp');
  assertCount(mergeDelayMs, 'the promise merge delay');
  if (id !== verifier.keyIdHex) fail(`the promise is signed by key ${String(id)}, not ${verifier.keyIdHex}`);
  const raw = decodeBase64(signature, 'the promise signature');
  if (!ed25519Verify(verifier, promiseMessage(origin, leaf, timestamp, mergeDelayMs), raw)) {
    fail('the promise signature is invalid');
  }
  return timestamp + mergeDelayMs;
}
