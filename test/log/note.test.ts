// C2SP signed notes, keys, checkpoints and Testigo's signed promises: the Go note package's published example
// (golang.org/x/mod/sumdb/note) reproduced byte for byte, sign/open round trips, and one-byte alterations refused.
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  keyId,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  promiseMessage,
  TlogError,
  verifyPromise,
} from '../../bin/lib/tlog.mjs';
import { leafHash } from '../../src/features/log/merkle.js';
import {
  DEFAULT_ED25519_BACKEND,
  ed25519Signing,
  formatCheckpoint,
  generateSigner,
  parseSignerKey,
  SignerKeyError,
  signCheckpoint,
  signNote,
  signPromise,
} from '../../src/features/log/note.js';

// From the documentation of golang.org/x/mod/sumdb/note (note.go, "Example").
const GO_SIGNER = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VERIFIER = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

const refused = (check: () => unknown) => expect(check).toThrow(TlogError);
/** Every one-character alteration of `text` at the given positions (XOR 1 keeps ASCII ASCII). */
const alterAt = (text: string, at: number) =>
  text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 1) + text.slice(at + 1);

describe('signed notes › the Go note package example', () => {
  it('the signer key gives the published verifier key and key id', () => {
    const signer = parseSignerKey(GO_SIGNER);
    expect(signer.verifierKey).toBe(GO_VERIFIER);
    expect(signer.keyIdHex).toBe('c74f20a3');
    const verifier = parseVerifierKey(GO_VERIFIER);
    expect(keyId('PeterNeumann', verifier.publicKey).toString('hex')).toBe('c74f20a3');
  });

  it('signing the example text gives the published note, byte for byte, and it opens', () => {
    expect(signNote(GO_TEXT, parseSignerKey(GO_SIGNER))).toBe(GO_NOTE);
    const opened = openNote(GO_NOTE, GO_VERIFIER);
    expect(opened.text).toBe(GO_TEXT);
    expect(opened.verified).toEqual([{ name: 'PeterNeumann', keyIdHex: 'c74f20a3', base64: expect.any(String) }]);
  });

  it('every one-character alteration of the note is refused', () => {
    for (let at = 0; at < GO_NOTE.length; at++) {
      if (GO_NOTE.charCodeAt(at) > 0x7f) continue; // the em dash: altering one of its UTF-16 units is tested below
      const altered = alterAt(GO_NOTE, at);
      if (altered === GO_NOTE) continue;
      refused(() => openNote(altered, GO_VERIFIER));
    }
    refused(() => openNote(GO_NOTE.replace('\u2014', '-'), GO_VERIFIER));
  });

  it('malformed keys are refused: wrong id, wrong type byte, short key, bad base64, bad name', () => {
    refused(() => parseVerifierKey(GO_VERIFIER.replace('c74f20a3', 'c74f20a4')));
    refused(() => parseVerifierKey(GO_VERIFIER.replace('+ARpc', '+AhpC')));
    refused(() => parseVerifierKey('PeterNeumann+c74f20a3+ARpc2QcU'));
    refused(() => parseVerifierKey(`${GO_VERIFIER}=`));
    refused(() => parseVerifierKey(`Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW`));
    expect(() => parseSignerKey(GO_SIGNER.replace('c74f20a3', '00000000'))).toThrow(SignerKeyError);
    expect(() => parseSignerKey(GO_SIGNER.replace('PRIVATE+KEY', 'PRIVATE+KEZ'))).toThrow(SignerKeyError);
    expect(() => parseSignerKey(GO_VERIFIER)).toThrow(SignerKeyError);
  });
});

describe('signed notes › opening rules (C2SP signed-note, as Go note.Open)', () => {
  const { signer } = generateSigner('testigo.example/log');
  const other = generateSigner('testigo.example/log').signer;
  const witness = generateSigner('witness.example').signer;
  const text = 'testigo.example/log\n3\nPH6byTDck/AfppmF7yQtn56GHzxTVaokzl70tLinDMs=\n';
  const note = signNote(text, signer);
  const sigLine = (n: string) => n.slice(n.lastIndexOf('\n\n') + 2);

  it('signatures by unknown keys are ignored, one valid signature by the key is enough', () => {
    const cosigned = `${note}${sigLine(signNote(text, witness))}${sigLine(signNote(text, other))}`;
    const opened = openNote(cosigned, signer.verifierKey);
    expect(opened.verified).toHaveLength(1);
    expect(opened.unverified.map((s) => s.name)).toEqual(['witness.example', 'testigo.example/log']);
  });

  it('a note signed only by another key, or with a bad signature by the key, is refused', () => {
    refused(() => openNote(signNote(text, other), signer.verifierKey));
    const forged = sigLine(signNote('something else\n', signer));
    refused(() => openNote(`${text}\n${forged}`, signer.verifierKey));
  });

  it('malformed notes are refused', () => {
    refused(() => openNote(text, signer.verifierKey)); // no signature block
    refused(() => openNote(note.slice(0, -1), signer.verifierKey)); // no final newline
    refused(() => openNote(note.replace('\n3\n', '\n3\r\n'), signer.verifierKey)); // control character
    refused(() => openNote(Buffer.concat([Buffer.from(note), Buffer.from([0xff])]), signer.verifierKey)); // not UTF-8
    refused(() => openNote(`${note}${sigLine(note).repeat(100)}`, signer.verifierKey)); // > 100 signatures
    refused(() => openNote(note.replace(' ', '  '), signer.verifierKey));
    expect(() => signNote('no newline', signer)).toThrow(RangeError);
    expect(() => signNote('tab\there\n', signer)).toThrow(RangeError);
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  const { signer } = generateSigner('testigo.example/log');
  const root = leafHash(Buffer.from('x'));

  it('format, sign, open: origin, size, root, extensions', () => {
    const body = formatCheckpoint('testigo.example/log', 12, root, ['ext']);
    expect(body).toBe(`testigo.example/log\n12\n${root.toString('base64')}\next\n`);
    expect(parseCheckpoint(body)).toEqual({
      origin: 'testigo.example/log',
      size: 12,
      rootHash: root,
      extensions: ['ext'],
    });
    const opened = openCheckpoint(signCheckpoint(signer, 'testigo.example/log', 12, root), signer.verifierKey);
    expect(opened.size).toBe(12);
    expect(opened.rootHash).toEqual(root);
  });

  it('a checkpoint of another origin, or malformed, is refused', () => {
    refused(() => openCheckpoint(signCheckpoint(signer, 'elsewhere.example/log', 1, root), signer.verifierKey));
    refused(() => parseCheckpoint(`o\n012\n${root.toString('base64')}\n`));
    refused(() => parseCheckpoint(`o\n-1\n${root.toString('base64')}\n`));
    refused(() => parseCheckpoint('o\n1\nAAAA\n'));
    refused(() => parseCheckpoint(`o\n1\n${root.toString('base64')}\n\n`));
    refused(() => parseCheckpoint(`\n1\n${root.toString('base64')}\n`));
  });
});

describe('signed promises of inclusion', () => {
  const { signer } = generateSigner('testigo.example/log');
  const origin = 'testigo.example/log';
  const leaf = leafHash(Buffer.from('{"v":1}'));

  it('are deterministic, cover the documented bytes, and verify until the deadline they state', () => {
    const promise = signPromise(signer, origin, leaf, 1_764_650_000_123, 2000);
    expect(signPromise(signer, origin, leaf, 1_764_650_000_123, 2000)).toEqual(promise);
    expect(promiseMessage(origin, leaf, 1_764_650_000_123, 2000).toString('utf8')).toBe(
      `testigo-promise/v1\n${origin}\n1764650000123\n2000\n${leaf.toString('base64')}\n`,
    );
    expect(promise.keyId).toBe(signer.keyIdHex);
    expect(verifyPromise(signer.verifierKey, origin, promise)).toBe(1_764_650_002_123);
  });

  it('any altered field, another origin or another key is refused', () => {
    const promise = signPromise(signer, origin, leaf, 1_764_650_000_123, 2000);
    const other = leafHash(Buffer.from('{"v":2}')).toString('base64');
    refused(() => verifyPromise(signer.verifierKey, origin, { ...promise, leafHash: other }));
    refused(() => verifyPromise(signer.verifierKey, origin, { ...promise, timestamp: promise.timestamp + 1 }));
    refused(() => verifyPromise(signer.verifierKey, origin, { ...promise, mergeDelayMs: 10_000 }));
    refused(() => verifyPromise(signer.verifierKey, origin, { ...promise, keyId: '00000000' }));
    refused(() => verifyPromise(signer.verifierKey, origin, { ...promise, signature: alterAt(promise.signature, 5) }));
    refused(() => verifyPromise(signer.verifierKey, 'elsewhere.example/log', promise));
    refused(() => verifyPromise(generateSigner(origin).signer.verifierKey, origin, promise));
    refused(() => verifyPromise(signer.verifierKey, origin, { ...promise, timestamp: 1.5 }));
  });
});

describe('Ed25519 signing: libsodium and OpenSSL', () => {
  it('libsodium signs by default on the platforms of its prebuilt addon (this one included)', () => {
    // linux-x64 is what CI, the machines here and the Docker image run: a failed addon load must not go unnoticed.
    if (process.platform === 'linux' && process.arch === 'x64') expect(DEFAULT_ED25519_BACKEND).toBe('libsodium');
  });

  it('both give the same bytes for the same seed and message, and OpenSSL verifies them', () => {
    for (let i = 0; i < 200; i += 1) {
      const seed = randomBytes(32);
      const message = randomBytes(i * 7);
      const sodium = ed25519Signing(seed, 'libsodium')(message);
      expect(ed25519Signing(seed, 'openssl')(message).equals(sodium)).toBe(true);
      const { signer } = generateSigner('testigo.example/log');
      const signature = signer.sign(message);
      const publicKey = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: signer.publicKey.toString('base64url') },
        format: 'jwk',
      });
      expect(verify(null, message, publicKey, signature)).toBe(true);
      expect(verify(null, Buffer.concat([message, Buffer.of(0)]), publicKey, signature)).toBe(false);
    }
  });
});
