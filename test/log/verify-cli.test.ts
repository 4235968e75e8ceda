// testigo-verify, run as a journalist would (node bin/testigo-verify.mjs, files in a folder, or --url against a
// server): a genuine receipt is VERIFIED (exit 0); one byte altered in the entry, the proof, the checkpoint, a
// signature or the consistency proof is NOT VERIFIED (exit 1); a usage error exits 2.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildLevels,
  consistencyProof,
  inclusionProof,
  leafHash,
  levelsHashAt,
  rootOf,
} from '../../src/features/log/merkle.js';
import { generateSigner, signCheckpoint, signPromise } from '../../src/features/log/note.js';

const CLI = join(import.meta.dirname, '../../bin/testigo-verify.mjs');
const ORIGIN = 'testigo.example/log';
const { signer } = generateSigner(ORIGIN);

// A log of seven entries; the receipt is for entry 4, checked against the checkpoint of size 7 and consistent with
// the older checkpoint of size 5.
const entries = Array.from({ length: 7 }, (_, i) =>
  Buffer.from(JSON.stringify({ v: 1, type: 'report', reportId: `r${i}`, revision: 1, centreCode: '010101001' })),
);
const leaves = entries.map((entry) => leafHash(entry));
const tree = levelsHashAt(buildLevels(leaves));
const INDEX = 4;
const b64 = (bytes: Buffer) => bytes.toString('base64');

/** Flips the lowest bit of byte `at` of base64 `text` (still valid base64, one byte different). */
function flip(text: string, at = 0): string {
  const bytes = Buffer.from(text, 'base64');
  bytes[at] = (bytes[at] ?? 0) ^ 1;
  return bytes.toString('base64');
}

interface Files {
  receipt: unknown;
  checkpoint: string;
  proof: unknown;
  oldCheckpoint: string;
  consistency: unknown;
}

let genuine: Files;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'testigo-verify-'));
  const root = await rootOf(7, tree);
  const oldRoot = await rootOf(5, tree);
  genuine = {
    receipt: {
      id: 'r4',
      receipt: {
        entry: b64(entries[INDEX] as Buffer),
        leafHash: b64(leaves[INDEX] as Buffer),
        logIndex: INDEX,
        promise: signPromise(signer, ORIGIN, leaves[INDEX] as Buffer, 1_764_650_000_000, 2000),
      },
    },
    checkpoint: signCheckpoint(signer, ORIGIN, 7, root),
    proof: {
      index: INDEX,
      size: 7,
      leafHash: b64(leaves[INDEX] as Buffer),
      rootHash: b64(root),
      proof: (await inclusionProof(INDEX, 7, tree)).map(b64),
    },
    oldCheckpoint: signCheckpoint(signer, ORIGIN, 5, oldRoot),
    consistency: { from: 5, to: 7, proof: (await consistencyProof(5, 7, tree)).map(b64) },
  };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

let counter = 0;
/** Writes the files to a fresh folder and runs the CLI on them (with the old checkpoint and consistency proof). */
function verifyFiles(files: Files, key = signer.verifierKey) {
  const at = join(dir, String(counter++));
  const write = (name: string, content: unknown) => {
    const path = `${at}-${name}`;
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  return run([
    '--receipt',
    write('receipt.json', files.receipt),
    '--checkpoint',
    write('checkpoint.txt', files.checkpoint),
    '--key',
    write('key.txt', `${key}\n`),
    '--proof',
    write('proof.json', files.proof),
    '--old-checkpoint',
    write('old-checkpoint.txt', files.oldCheckpoint),
    '--consistency',
    write('consistency.json', files.consistency),
  ]);
}

const clone = (files: Files): Files & { receipt: { receipt: Record<string, unknown> } } =>
  JSON.parse(JSON.stringify(files));

describe('testigo-verify › a genuine receipt', () => {
  it('is VERIFIED with every check ✔, the entry printed, exit 0', async () => {
    const { code, stdout } = await verifyFiles(genuine);
    expect(stdout).not.toContain('\u2718');
    expect(stdout).toContain('\u2714 leaf hash');
    expect(stdout).toContain('\u2714 promise of inclusion signed by the log');
    expect(stdout).toContain(`\u2714 checkpoint signed by ${ORIGIN}+${signer.keyIdHex}`);
    expect(stdout).toContain('\u2714 inclusion proof at index 4 of size 7');
    expect(stdout).toContain('\u2714 consistency proof from size 5 to size 7');
    expect(stdout).toContain('"reportId": "r4"');
    expect(stdout).toContain(
      `VERIFIED: entry ${b64(leaves[INDEX] as Buffer)} is included at index 4 of ${ORIGIN} size 7`,
    );
    expect(code).toBe(0);
  });

  it('accepts the bare receipt object and the key given as text', async () => {
    const files = { ...genuine, receipt: (genuine.receipt as { receipt: unknown }).receipt };
    const path = join(dir, 'bare.json');
    writeFileSync(path, JSON.stringify(files.receipt));
    const checkpoint = join(dir, 'bare-checkpoint.txt');
    writeFileSync(checkpoint, genuine.checkpoint);
    const proof = join(dir, 'bare-proof.json');
    writeFileSync(proof, JSON.stringify(genuine.proof));
    const { code, stdout } = await run([
      '--receipt',
      path,
      '--checkpoint',
      checkpoint,
      '--key',
      signer.verifierKey,
      '--proof',
      proof,
    ]);
    expect(stdout).toContain('VERIFIED: entry');
    expect(code).toBe(0);
  });
});

describe('testigo-verify › one byte altered is NOT VERIFIED (exit 1)', () => {
  const cases: [string, (files: ReturnType<typeof clone>) => void, string][] = [
    [
      'the entry',
      (f) => void (f.receipt.receipt.entry = flip(f.receipt.receipt.entry as string, 30)),
      '\u2718 leaf hash',
    ],
    [
      'the leaf hash of the receipt',
      (f) => void (f.receipt.receipt.leafHash = flip(f.receipt.receipt.leafHash as string)),
      '\u2718',
    ],
    [
      'a hash of the inclusion proof',
      (f) => {
        const proof = f.proof as { proof: string[] };
        proof.proof[1] = flip(proof.proof[1] as string, 7);
      },
      '\u2718 inclusion proof',
    ],
    ['the index of the proof', (f) => void ((f.proof as { index: number }).index = 5), '\u2718 inclusion proof'],
    [
      'the checkpoint’s root hash',
      (f) => {
        const [origin, size, root, ...rest] = f.checkpoint.split('\n');
        f.checkpoint = [origin, size, flip(root as string, 31), ...rest].join('\n');
      },
      '\u2718 checkpoint: invalid signature',
    ],
    ['the checkpoint’s size', (f) => void (f.checkpoint = f.checkpoint.replace('\n7\n', '\n6\n')), '\u2718 checkpoint'],
    [
      'the checkpoint’s signature',
      (f) => {
        const [body, line] = f.checkpoint.split('\n\n') as [string, string];
        const [dash, name, sig] = line.trim().split(' ') as [string, string, string];
        f.checkpoint = `${body}\n\n${dash} ${name} ${flip(sig, 40)}\n`;
      },
      '\u2718 checkpoint: invalid signature',
    ],
    [
      'the promise’s signature',
      (f) => {
        const promise = f.receipt.receipt.promise as { signature: string };
        promise.signature = flip(promise.signature, 10);
      },
      '\u2718 promise of inclusion signed by the log: the promise signature is invalid',
    ],
    [
      'the promise’s timestamp',
      (f) => void ((f.receipt.receipt.promise as { timestamp: number }).timestamp += 1),
      '\u2718 promise',
    ],
    [
      'a hash of the consistency proof',
      (f) => {
        const proof = f.consistency as { proof: string[] };
        proof.proof[0] = flip(proof.proof[0] as string, 3);
      },
      '\u2718 consistency proof',
    ],
    [
      'the old checkpoint’s root hash',
      (f) => {
        const [origin, size, root, ...rest] = f.oldCheckpoint.split('\n');
        f.oldCheckpoint = [origin, size, flip(root as string, 0), ...rest].join('\n');
      },
      '\u2718 old checkpoint',
    ],
  ];

  it.each(cases)('%s', async (_what, alter, expected) => {
    const files = clone(genuine);
    alter(files);
    const { code, stdout } = await verifyFiles(files);
    expect(stdout).toContain(expected);
    expect(stdout).toContain('NOT VERIFIED: ');
    expect(stdout).not.toMatch(/^VERIFIED/m);
    expect(code).toBe(1);
  });

  it('a checkpoint signed by another key (same name) is refused', async () => {
    const other = generateSigner(ORIGIN).signer;
    const files = clone(genuine);
    files.checkpoint = signCheckpoint(
      other,
      ORIGIN,
      7,
      Buffer.from((genuine.proof as { rootHash: string }).rootHash, 'base64'),
    );
    const { code, stdout } = await verifyFiles(files);
    expect(stdout).toContain(`\u2718 checkpoint: the note is not signed by ${ORIGIN}+${signer.keyIdHex}`);
    expect(code).toBe(1);
  });

  it('a receipt verified with the wrong key is refused', async () => {
    const { code, stdout } = await verifyFiles(genuine, generateSigner(ORIGIN).signer.verifierKey);
    expect(stdout).toContain('NOT VERIFIED');
    expect(code).toBe(1);
  });
});

describe('testigo-verify › usage', () => {
  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await run(['--help']);
    expect(stdout).toContain('Usage: testigo-verify --receipt FILE');
    expect(code).toBe(0);
  });

  it('a missing option, an unknown one or an unreadable file exits 2', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['--receipt', 'x.json', '--bogus'])).code).toBe(2);
    expect((await run(['--receipt', join(dir, 'absent.json'), '--checkpoint', 'a', '--key', 'b'])).code).toBe(2);
  });
});

describe('testigo-verify › --url fetches the key, the checkpoint and the proofs', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      seen.push(`${request.headers.authorization ?? ''} ${url.pathname}${url.search}`);
      const send = (status: number, type: string, body: string) => {
        response.writeHead(status, { 'content-type': type });
        response.end(body);
      };
      if (url.pathname === '/v1/log/key') return send(200, 'text/plain', `${signer.verifierKey}\n`);
      if (url.pathname === '/v1/log/checkpoint') return send(200, 'text/plain', genuine.checkpoint);
      if (
        url.pathname === '/v1/log/proof/inclusion' &&
        url.searchParams.get('leafHash') === b64(leaves[INDEX] as Buffer)
      ) {
        return send(200, 'application/json', JSON.stringify(genuine.proof));
      }
      if (url.pathname === '/v1/log/proof/consistency')
        return send(200, 'application/json', JSON.stringify(genuine.consistency));
      return send(404, 'application/problem+json', '{"code":"NOT_FOUND"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('verifies with only the receipt and the old checkpoint saved, sending the token from TESTIGO_TOKEN', async () => {
    const receipt = join(dir, 'url-receipt.json');
    writeFileSync(receipt, JSON.stringify(genuine.receipt));
    const old = join(dir, 'url-old.txt');
    writeFileSync(old, genuine.oldCheckpoint);
    const { code, stdout } = await run(['--receipt', receipt, '--url', base, '--old-checkpoint', old], {
      TESTIGO_TOKEN: 'tok',
    });
    expect(stdout).toContain('fetched from the server itself');
    expect(stdout).toContain('\u2714 consistency proof from size 5 to size 7');
    expect(stdout).toContain('VERIFIED: entry');
    expect(code).toBe(0);
    expect(seen).toContain(
      `Bearer tok /v1/log/proof/inclusion?leafHash=${encodeURIComponent(b64(leaves[INDEX] as Buffer))}&size=7`,
    );
    expect(seen).toContain('Bearer tok /v1/log/proof/consistency?from=5&to=7');
  });

  it('a leaf the server has no proof for is NOT VERIFIED', async () => {
    const files = clone(genuine);
    const other = leafHash(Buffer.from('{"v":1}'));
    files.receipt.receipt = {
      entry: b64(Buffer.from('{"v":1}')),
      leafHash: b64(other),
      logIndex: null,
      promise: signPromise(signer, ORIGIN, other, Date.now(), 2000),
    };
    const receipt = join(dir, 'url-missing.json');
    writeFileSync(receipt, JSON.stringify(files.receipt));
    const { code, stdout } = await run(['--receipt', receipt, '--url', base, '--key', signer.verifierKey]);
    expect(stdout).toContain('\u2714 promise of inclusion signed by the log');
    expect(stdout).toContain('\u2718 inclusion');
    expect(code).toBe(1);
  });
});
