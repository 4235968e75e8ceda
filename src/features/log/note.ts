// The signing half of the log's C2SP formats: Ed25519 signer keys (`PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖
// seed)>`, as Go's golang.org/x/mod/sumdb/note writes them), signed notes, checkpoints (c2sp.org/tlog-checkpoint)
// and signed promises of inclusion. Verification (keys, notes, checkpoints, promises) is bin/lib/tlog.mjs, shared
// with the offline verifier; this file only adds what needs the private key. Ed25519 is deterministic, so signing
// the same text twice gives the same bytes (a replayed answer carries a byte-identical receipt).
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  decodeBase64,
  ED25519_TYPE,
  formatVerifierKey,
  type InclusionPromise,
  isNoteText,
  isValidKeyName,
  keyId,
  parseVerifierKey,
  promiseMessage,
  splitKeyText,
  type VerifierKey,
} from '../../../bin/lib/tlog.mjs';

/** A log signing key, parsed. */
export interface Signer {
  name: string;
  keyId: Buffer;
  keyIdHex: string;
  publicKey: Buffer;
  privateKey: KeyObject;
  /** The 32-byte private seed (what the signer key text encodes; never logged). */
  seed: Buffer;
  /** The raw 64-byte Ed25519 signature of a message (see ed25519Signing). */
  sign: (message: Uint8Array) => Buffer;
  /** The verifier key text `<name>+<hex id>+<base64(0x01 ‖ public key)>` (what GET /v1/log/key serves). */
  verifierKey: string;
  /** The verifier, parsed (for checking what this signer signs). */
  verifier: VerifierKey;
}

/** Why a signer key text was refused (never echoes the key). */
export class SignerKeyError extends Error {
  override name = 'SignerKeyError';
}

/** PKCS#8 DER of an Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The key of a seed, and its raw public key. No JWK export (nor generateKeyPairSync, see generateSigner): on Node 20
 * exporting an Ed25519 key as JWK holds the key's mutex while it allocates, and a garbage collection there that
 * finalises the job which generated that key locks the same mutex: the process hangs for good (seen in CI, in
 * node::crypto::ExportJWKEdKey under ~KeyGenJob). The SPKI DER of an Ed25519 key ends with its 32 raw bytes.
 */
function keyFromSeed(seed: Buffer): { privateKey: KeyObject; publicKey: Buffer } {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: Buffer.from(spki.subarray(spki.length - 32)) };
}

/** The part of sodium-native (libsodium's bindings) the signer uses. */
interface Sodium {
  crypto_sign_seed_keypair(publicKey: Buffer, secretKey: Buffer, seed: Buffer): void;
  crypto_sign_detached(signature: Buffer, message: Uint8Array, secretKey: Buffer): void;
}

/** libsodium, when its prebuilt addon loads on this platform (undefined otherwise: node:crypto signs then). */
const sodium: Sodium | undefined = (() => {
  try {
    return createRequire(import.meta.url)('sodium-native') as Sodium;
  } catch {
    return undefined;
  }
})();

/** Which implementation signs by default: libsodium when it loads, else OpenSSL (node:crypto). */
export const DEFAULT_ED25519_BACKEND: 'libsodium' | 'openssl' = sodium ? 'libsodium' : 'openssl';

/**
 * Ed25519 signing with the key of a 32-byte seed. Every accepted row's receipt carries a signature, so this is on
 * the ingest path: libsodium's signs in 15 µs on this project's 2-core machines, OpenSSL's (node:crypto) in 33 µs.
 * RFC 8032 signatures are deterministic, so both give the same bytes for the same key and message (a test checks
 * it); `backend` picks one (default: libsodium when it loads).
 */
export function ed25519Signing(
  seed: Buffer,
  backend: 'libsodium' | 'openssl' = DEFAULT_ED25519_BACKEND,
): (message: Uint8Array) => Buffer {
  if (backend === 'libsodium') {
    if (!sodium) throw new Error('libsodium (sodium-native) is not available on this platform');
    const publicKey = Buffer.alloc(32);
    const secretKey = Buffer.alloc(64);
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
    return (message) => {
      const signature = Buffer.alloc(64);
      sodium.crypto_sign_detached(signature, message, secretKey);
      return signature;
    };
  }
  const { privateKey } = keyFromSeed(seed);
  return (message) => sign(null, message, privateKey);
}

function signerFrom(name: string, seed: Buffer): Signer {
  const { privateKey, publicKey } = keyFromSeed(seed);
  const verifierKey = formatVerifierKey(name, publicKey);
  const id = keyId(name, publicKey);
  return {
    name,
    keyId: id,
    keyIdHex: id.toString('hex'),
    publicKey,
    privateKey,
    seed,
    sign: ed25519Signing(seed),
    verifierKey,
    verifier: parseVerifierKey(verifierKey),
  };
}

/** Formats a signer key text from a name and a 32-byte Ed25519 seed. */
export function formatSignerKey(name: string, seed: Buffer): string {
  const { publicKey } = keyFromSeed(seed);
  const encoded = Buffer.concat([Buffer.of(ED25519_TYPE), seed]).toString('base64');
  return `PRIVATE+KEY+${name}+${keyId(name, publicKey).toString('hex')}+${encoded}`;
}

/**
 * Parses `PRIVATE+KEY+<name>+<8 hex id>+<base64(0x01 ‖ 32-byte seed)>` (surrounding whitespace allowed), checking
 * that the id is the one of the public key derived from the seed.
 */
export function parseSignerKey(text: string): Signer {
  const [private1, private2, name = '', idHex = '', encoded] = splitKeyText(text.trim(), 5);
  if (private1 !== 'PRIVATE' || private2 !== 'KEY' || encoded === undefined) {
    throw new SignerKeyError('a signer key is PRIVATE+KEY+<name>+<key id>+<key>');
  }
  if (!isValidKeyName(name)) throw new SignerKeyError('invalid key name (empty, or with a space or "+")');
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new SignerKeyError('the key id must be 8 lowercase hex digits');
  let raw: Buffer;
  try {
    raw = decodeBase64(encoded, 'the signer key');
  } catch {
    throw new SignerKeyError('the signer key is not standard base64');
  }
  if (raw.length !== 33 || raw[0] !== ED25519_TYPE) {
    throw new SignerKeyError('only Ed25519 signer keys (0x01 followed by a 32-byte seed) are supported');
  }
  const signer = signerFrom(name, raw.subarray(1));
  if (signer.keyIdHex !== idHex) throw new SignerKeyError('the key id does not match the key');
  return signer;
}

/** A new random Ed25519 signer key for `name`, with its texts. */
export function generateSigner(name: string): { signerKey: string; signer: Signer } {
  if (!isValidKeyName(name)) throw new SignerKeyError('invalid key name (empty, or with a space or "+")');
  // An Ed25519 private key is 32 random bytes (RFC 8032 §5.1.5).
  const seed = randomBytes(32);
  return { signerKey: formatSignerKey(name, seed), signer: signerFrom(name, seed) };
}

/** The raw 64-byte Ed25519 signature of `message`. */
export function signBytes(signer: Signer, message: Uint8Array): Buffer {
  return signer.sign(message);
}

/**
 * Signs a note text (C2SP signed-note): the text (ending in a newline, valid UTF-8, no control character but
 * newline), a blank line, and `— <name> <base64(key id ‖ signature)>\n`.
 */
export function signNote(text: string, signer: Signer): string {
  if (!text.endsWith('\n')) throw new RangeError('a note text ends with a newline');
  if (!isNoteText(text)) {
    throw new RangeError('a note text is UTF-8 without control characters other than newline');
  }
  const signature = signBytes(signer, Buffer.from(text, 'utf8'));
  return `${text}\n\u2014 ${signer.name} ${Buffer.concat([signer.keyId, signature]).toString('base64')}\n`;
}

/** A checkpoint body (c2sp.org/tlog-checkpoint): origin, decimal size, base64 root, optional extension lines. */
export function formatCheckpoint(origin: string, size: number, rootHash: Buffer, extensions: string[] = []): string {
  if (origin === '' || origin.includes('\n')) throw new RangeError('invalid origin');
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('invalid size');
  if (rootHash.length !== 32) throw new RangeError('a root hash is 32 bytes');
  if (extensions.some((line) => line === '' || line.includes('\n'))) throw new RangeError('invalid extension line');
  return [origin, String(size), rootHash.toString('base64'), ...extensions].map((line) => `${line}\n`).join('');
}

/** A signed checkpoint: what GET /v1/log/checkpoint serves. */
export function signCheckpoint(signer: Signer, origin: string, size: number, rootHash: Buffer): string {
  return signNote(formatCheckpoint(origin, size, rootHash), signer);
}

/**
 * The log's signed promise that the leaf will be in a checkpoint by `timestamp + mergeDelayMs` (see
 * promiseMessage in bin/lib/tlog.mjs for the signed bytes).
 */
export function signPromise(
  signer: Signer,
  origin: string,
  leafHash: Buffer,
  timestamp: number,
  mergeDelayMs: number,
): InclusionPromise {
  const signature = signBytes(signer, promiseMessage(origin, leafHash, timestamp, mergeDelayMs));
  return {
    leafHash: leafHash.toString('base64'),
    timestamp,
    mergeDelayMs,
    keyId: signer.keyIdHex,
    signature: signature.toString('base64'),
  };
}
