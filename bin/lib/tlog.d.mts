// Types of tlog.mjs (hand-written: the module is plain JavaScript so that testigo-verify runs without a build).
import type { KeyObject } from 'node:crypto';

export class TlogError extends Error {
  constructor(message: string);
}

export const HASH_SIZE: 32;
export const EMPTY_ROOT: Buffer;
export function leafHash(entry: Uint8Array): Buffer;
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer;
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean;

export function inclusionProofLength(index: number, size: number): number;
export function consistencyProofLength(m: number, n: number): number;
export function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Buffer;
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void;
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void;

export function decodeBase64(text: unknown, what?: string): Buffer;
export function decodeHash(text: unknown, what: string): Buffer;

export const ED25519_TYPE: 1;
export function isValidKeyName(name: unknown): name is string;
export function keyId(name: string, publicKey: Uint8Array): Buffer;
/** Splits at the first count-1 plus signs (fewer parts when there are fewer). */
export function splitKeyText(text: string, count: number): string[];
export function formatVerifierKey(name: string, publicKey: Uint8Array): string;

export interface VerifierKey {
  name: string;
  keyId: Buffer;
  keyIdHex: string;
  publicKey: Buffer;
  /** The canonical key text `<name>+<hex id>+<base64>`. */
  text: string;
  keyObject: KeyObject;
}
export function parseVerifierKey(text: string): VerifierKey;

/** No ASCII control character but newline, no unpaired surrogate. */
export function isNoteText(text: string): boolean;
export const MAX_NOTE_BYTES: number;
export const MAX_SIGNATURES: number;
export interface NoteSignature {
  name: string;
  keyIdHex: string;
  base64: string;
}
export interface OpenedNote {
  /** The signed text, final newline included. */
  text: string;
  verified: NoteSignature[];
  unverified: NoteSignature[];
}
export function openNote(note: string | Uint8Array, key: VerifierKey | string): OpenedNote;

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  extensions: string[];
}
export function parseCheckpoint(text: string): Checkpoint;
export function openCheckpoint(
  note: string | Uint8Array,
  key: VerifierKey | string,
  origin?: string,
): Checkpoint & { note: OpenedNote };

export const PROMISE_CONTEXT: 'testigo-promise/v1';
export interface InclusionPromise {
  /** base64 of the 32-byte leaf hash. */
  leafHash: string;
  /** Milliseconds since the epoch when the log accepted the entry. */
  timestamp: number;
  /** The entry is in a checkpoint by timestamp + mergeDelayMs. */
  mergeDelayMs: number;
  /** The log key's id, 8 lowercase hex digits. */
  keyId: string;
  /** base64 of the 64-byte Ed25519 signature over promiseMessage(…). */
  signature: string;
}
export function promiseMessage(origin: string, leaf: Uint8Array, timestamp: number, mergeDelayMs: number): Buffer;
export function verifyPromise(key: VerifierKey | string, origin: string, promise: InclusionPromise): number;
