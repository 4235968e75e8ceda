// The log as an outside auditor sees it, through the real app: receipts on every accepting answer (identical on
// replay), each receipt's leaf hash that of its entry, every entry in a signed checkpoint within the merge delay,
// proofs that verify, the tree rebuilt from /v1/log/entries, tiles, and contiguous indices under concurrency.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  openCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
  verifyPromise,
} from '../../bin/lib/tlog.mjs';
import { rootFromLeaves } from '../../src/features/log/merkle.js';
import { encodeEntryBundle } from '../../src/features/log/tiles.js';
import { as, createActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { reportPayload, seedRegistry, setElection } from '../helpers/factories.js';
import { jpeg, multipart } from '../helpers/photo-upload.js';

const MERGE_DELAY_MS = 400;
const { app, admin } = await setupTestApp({
  env: { LOG_MERGE_DELAY_MS: String(MERGE_DELAY_MS), RATE_LIMIT_PER_TOKEN: '0' },
});
await seedRegistry(app, admin);
await setElection(app, admin);
const reviewer = await createActor(app, 'admin', { name: 'Reviewer' });
const post = as(app, admin);

interface Receipt {
  entry: string;
  leafHash: string;
  logIndex: null;
  promise: { leafHash: string; timestamp: number; mergeDelayMs: number; keyId: string; signature: string };
}
const b64 = (text: string) => Buffer.from(text, 'base64');
const key = async () => (await post('/v1/log/key')).body.trim();
const checkpoint = async () => {
  const response = await post('/v1/log/checkpoint');
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
  return openCheckpoint(response.body, await key());
};
/** Waits until the latest checkpoint covers `size` leaves (at most `ms`). */
async function signedAtLeast(size: number, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const head = await checkpoint();
    if (head.size >= size) return head;
    if (Date.now() > deadline) throw new Error(`checkpoint still at ${head.size}, wanted ${size}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
/** The proof of inclusion of a receipt's leaf in the latest checkpoint, verified. */
async function included(receipt: Receipt) {
  const head = await checkpoint();
  const hash = encodeURIComponent(receipt.leafHash);
  const response = await post(`/v1/log/proof/inclusion?leafHash=${hash}&size=${head.size}`);
  expect(response.statusCode, response.body).toBe(200);
  const proof = response.json() as { index: number; size: number; leafHash: string; rootHash: string; proof: string[] };
  expect(proof.rootHash).toBe(head.rootHash.toString('base64'));
  verifyInclusion(proof.index, proof.size, b64(receipt.leafHash), proof.proof.map(b64), head.rootHash);
  return proof.index;
}
function checkReceipt(receipt: Receipt, verifier: string) {
  const entry = b64(receipt.entry);
  const leaf = createHash('sha256').update(Buffer.of(0)).update(entry).digest('base64');
  expect(receipt.leafHash).toBe(leaf);
  expect(receipt.logIndex).toBeNull();
  expect(verifyPromise(verifier, parseVerifierKey(verifier).name, receipt.promise)).toBe(
    receipt.promise.timestamp + MERGE_DELAY_MS,
  );
  return JSON.parse(entry.toString('utf8')) as Record<string, unknown>;
}

describe('receipts', () => {
  it('every accepting answer carries one: reports (201 and replays), batches, revisions, reviews, photos', async () => {
    const verifier = await key();
    const payload = reportPayload('voting', {}, { notes: 'Una cola muy larga, con Juan Pérez al frente' });
    const created = await post({ method: 'POST', url: '/v1/reports', payload });
    expect(created.statusCode).toBe(201);
    const receipt = created.json().receipt as Receipt;
    const entry = checkReceipt(receipt, verifier);
    expect(entry).toMatchObject({
      v: 1,
      type: 'report',
      reportId: payload.id,
      revision: 1,
      kind: 'voting',
      centreCode: '010101001',
      table: null,
      contentHash: created.json().submissionHash,
      receivedAt: created.json().receivedAt,
    });
    expect(entry.actor).toMatch(/^[0-9a-f]{64}$/);
    expect(entry.actor).not.toContain(admin.id);
    // No personal data: neither the notes, nor the answers, nor the observer's id.
    const text = b64(receipt.entry).toString('utf8');
    for (const secret of ['Juan', 'queueLength', admin.id]) expect(text).not.toContain(secret);
    // Canonical JSON: keys sorted, no spaces.
    expect(text).toBe(JSON.stringify(Object.fromEntries(Object.entries(entry).sort(([a], [b]) => (a < b ? -1 : 1)))));

    const replay = await as(app, reviewer)({ method: 'POST', url: '/v1/reports', payload });
    expect(replay.statusCode).toBe(200);
    expect(replay.json().receipt).toEqual(receipt);

    const batchItem = reportPayload('arrival');
    const batch = await post({ method: 'POST', url: '/v1/reports/batch', payload: { reports: [batchItem, payload] } });
    expect(batch.statusCode).toBe(200);
    const [fresh, again] = batch.json().results as { status: string; receipt: Receipt }[];
    expect(fresh!.status).toBe('created');
    expect(checkReceipt(fresh!.receipt, verifier)).toMatchObject({ type: 'report', reportId: batchItem.id });
    expect(again!.status).toBe('replayed');
    expect(again!.receipt).toEqual(receipt);

    const revise = { answers: { ...payload.answers, waitingMinutes: 30 }, reason: 'typo' };
    const revised = await post({ method: 'POST', url: `/v1/reports/${payload.id}/revisions`, payload: revise });
    expect(revised.statusCode).toBe(201);
    const revision = revised.json().receipt as Receipt;
    expect(checkReceipt(revision, verifier)).toMatchObject({
      type: 'revision',
      revision: 2,
      contentHash: revised.json().contentHash,
    });
    const unchanged = await post({ method: 'POST', url: `/v1/reports/${payload.id}/revisions`, payload: revise });
    expect(unchanged.statusCode).toBe(200);
    expect(unchanged.json().receipt).toEqual(revision);
    // A replay of the original after the revision still answers the original's receipt.
    expect((await post({ method: 'POST', url: '/v1/reports', payload })).json().receipt).toEqual(receipt);

    const reviewed = await as(
      app,
      reviewer,
    )({
      method: 'POST',
      url: `/v1/reports/${payload.id}/review`,
      payload: { state: 'flagged', note: 'Llamar al observador' },
    });
    expect(reviewed.statusCode).toBe(200);
    const review = reviewed.json().receipt as Receipt;
    const reviewEntry = checkReceipt(review, verifier);
    expect(reviewEntry).toMatchObject({ type: 'review', revision: 2, state: 'flagged' });
    expect(reviewEntry.contentHash).toBe(
      createHash('sha256').update('{"note":"Llamar al observador","state":"flagged"}').digest('hex'),
    );
    expect(b64(review.entry).toString()).not.toContain('Llamar');
    const clickedAgain = await as(
      app,
      reviewer,
    )({
      method: 'POST',
      url: `/v1/reports/${payload.id}/review`,
      payload: { state: 'flagged', note: 'Llamar al observador' },
    });
    expect(clickedAgain.json().receipt).toEqual(review);

    const photo = multipart(await jpeg(3));
    const upload = () =>
      post({
        method: 'POST',
        url: `/v1/reports/${payload.id}/photos`,
        headers: { 'content-type': photo.contentType },
        body: photo.body,
      });
    const uploaded = await upload();
    expect(uploaded.statusCode).toBe(201);
    const photoReceipt = uploaded.json().receipt as Receipt;
    expect(checkReceipt(photoReceipt, verifier)).toMatchObject({
      type: 'photo',
      photoId: uploaded.json().id,
      contentHash: uploaded.json().sha256,
    });
    const reuploaded = await upload();
    expect(reuploaded.statusCode).toBe(200);
    expect(reuploaded.json().receipt).toEqual(photoReceipt);

    // Every receipt is included in a signed checkpoint within the merge delay (plus the time to ask).
    const receipts = [receipt, fresh!.receipt, revision, review, photoReceipt];
    const deadline = Math.max(...receipts.map((r) => r.promise.timestamp)) + MERGE_DELAY_MS;
    const indices: number[] = [];
    for (;;) {
      const head = await checkpoint();
      const found = await Promise.all(
        receipts.map(
          async (r) => (await post(`/v1/log/proof/inclusion?leafHash=${encodeURIComponent(r.leafHash)}`)).statusCode,
        ),
      );
      if (found.every((status) => status === 200)) {
        expect(Date.now()).toBeLessThanOrEqual(deadline + 1000);
        for (const r of receipts) indices.push(await included(r));
        expect((await checkpoint()).size).toBeGreaterThanOrEqual(Math.max(head.size, 5));
        break;
      }
      if (Date.now() > deadline + 5000) throw new Error(`not included in time: ${found.join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(new Set(indices).size).toBe(5);
  });
});

describe('checkpoints, proofs, entries, tiles', () => {
  it('a consistency proof between two checkpoints verifies; the tree rebuilt from the entries has the root', async () => {
    const first = await signedAtLeast(1);
    for (let i = 0; i < 3; i += 1)
      expect((await post({ method: 'POST', url: '/v1/reports', payload: reportPayload('arrival') })).statusCode).toBe(
        201,
      );
    const second = await signedAtLeast(first.size + 3);
    const response = await post(`/v1/log/proof/consistency?from=${first.size}&to=${second.size}`);
    expect(response.statusCode, response.body).toBe(200);
    const { proof } = response.json() as { proof: string[] };
    verifyConsistency(first.size, second.size, proof.map(b64), first.rootHash, second.rootHash);
    expect(() =>
      verifyConsistency(first.size, second.size, proof.map(b64), Buffer.alloc(32, 1), second.rootHash),
    ).toThrow();

    const entries = await post(`/v1/log/entries?start=0&end=${second.size}`);
    expect(entries.statusCode).toBe(200);
    const list = entries.json().entries as { index: number; leafHash: string; entry: string }[];
    expect(list.map((e) => e.index)).toEqual([...Array(second.size).keys()]);
    const leaves = list.map((e) => createHash('sha256').update(Buffer.of(0)).update(b64(e.entry)).digest());
    expect(leaves.map((leaf) => leaf.toString('base64'))).toEqual(list.map((e) => e.leafHash));
    expect(rootFromLeaves(leaves).equals(second.rootHash)).toBe(true);

    // Tiles: the partial level-0 tile is the leaf hashes; the entry bundle the entries.
    const width = second.size % 256;
    const tile = await post(`/v1/log/tile/0/000.p/${width}`);
    expect(tile.statusCode).toBe(200);
    expect(tile.headers['cache-control']).not.toContain('immutable');
    expect(tile.rawPayload.equals(Buffer.concat(leaves))).toBe(true);
    const bundle = await post(`/v1/log/tile/entries/000.p/${width}`);
    expect(bundle.rawPayload.equals(encodeEntryBundle(list.map((e) => b64(e.entry))))).toBe(true);
    expect((await post(`/v1/log/tile/0/000.p/${width + 1}`)).statusCode).toBe(404);
    expect((await post('/v1/log/tile/0/000')).statusCode).toBe(404);
    expect((await post('/v1/log/tile/0/0')).statusCode).toBe(404);
  });

  it('400 for what is outside the latest checkpoint, 404 for an unknown leaf hash', async () => {
    const head = await checkpoint();
    expect((await post(`/v1/log/proof/inclusion?index=${head.size}`)).json().code).toBe('LOG_RANGE_INVALID');
    expect((await post(`/v1/log/proof/inclusion?index=0&size=${head.size + 1000}`)).json().code).toBe(
      'LOG_RANGE_INVALID',
    );
    expect((await post('/v1/log/proof/inclusion')).statusCode).toBe(400);
    expect((await post(`/v1/log/proof/inclusion?leafHash=${Buffer.alloc(32).toString('base64url')}`)).statusCode).toBe(
      404,
    );
    expect((await post('/v1/log/proof/consistency?from=0')).json().code).toBe('LOG_RANGE_INVALID');
    expect((await post('/v1/log/entries?start=0&end=1001')).json().code).toBe('LOG_RANGE_INVALID');
    expect((await post(`/v1/log/entries?start=0&end=${head.size + 1}`)).json().code).toBe('LOG_RANGE_INVALID');
    expect((await app.inject('/v1/log/checkpoint')).statusCode).toBe(401);
  });
});

describe('indices under concurrency', () => {
  it('50 concurrent first sends get 50 distinct, contiguous indices; 1,000 retries of one report append one', async () => {
    const before = (await signedAtLeast(0)).size;
    await new Promise((resolve) => setTimeout(resolve, MERGE_DELAY_MS));
    const start = (await checkpoint()).size;
    expect(start).toBeGreaterThanOrEqual(before);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => post({ method: 'POST', url: '/v1/reports', payload: reportPayload('arrival') })),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(Array(50).fill(201));
    const head = await signedAtLeast(start + 50);
    const indices = await Promise.all(answers.map((a) => included(a.json().receipt as Receipt)));
    expect([...indices].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => start + i));
    expect(head.size).toBe(start + 50);

    const one = reportPayload('arrival');
    const retries = await Promise.all(
      Array.from({ length: 1000 }, () => post({ method: 'POST', url: '/v1/reports', payload: one })),
    );
    expect(retries.filter((r) => r.statusCode === 201)).toHaveLength(1);
    expect(retries.filter((r) => r.statusCode === 200)).toHaveLength(999);
    expect(new Set(retries.map((r) => JSON.stringify(r.json().receipt))).size).toBe(1);
    await signedAtLeast(start + 51);
    await new Promise((resolve) => setTimeout(resolve, MERGE_DELAY_MS * 2));
    expect((await checkpoint()).size).toBe(start + 51);
  }, 120_000);
});
