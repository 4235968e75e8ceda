// The log's entries: a deterministic function of the stored rows (so that the receipt given at acceptance,
// the integrator and log:verify compute the same bytes). Canonical JSON (RFC 8785, JCS) of the row's facts
// that carry no personal data: the actor is a keyed pseudonym, and answers, notes, names or phones never appear.
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';

export const ENTRY_TYPES = ['report', 'revision', 'review', 'photo'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/** What an entry is made of, as the stored rows give it (see logRepository.sources*). */
export interface EntrySource {
  type: EntryType;
  reportId: string;
  /** report: 1; revision: its number; review: the revision it judged; photo: null. */
  revision: number | null;
  reviewId: bigint | number | string | null;
  photoId: string | null;
  kind: string;
  formVersion: number;
  centreCode: string;
  table: number | null;
  /** report/revision: the revision's content_hash; photo: its sha256; review: null (computed from state and note). */
  contentHash: string | null;
  receivedAt: Date;
  actorId: string;
  state: string | null;
  note: string | null;
}

/** The entry's key: which row it stands for (`report:<id>`, `revision:<id>:<n>`, `review:<id>`, `photo:<id>`). */
export function entryKey(source: Pick<EntrySource, 'type' | 'reportId' | 'revision' | 'reviewId' | 'photoId'>) {
  switch (source.type) {
    case 'report':
      return `report:${source.reportId}`;
    case 'revision':
      return `revision:${source.reportId}:${source.revision}`;
    case 'review':
      return `review:${String(source.reviewId)}`;
    case 'photo':
      return `photo:${source.photoId}`;
  }
}

export const jcs = (value: unknown): string => {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('nothing to canonicalise');
  return text;
};
const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Pseudonyms already computed, per actor key (its KeyObject built once): a few observers send most rows. */
const pseudonyms = new WeakMap<Buffer, { secret: KeyObject; known: Map<string, string> }>();
const MAX_KNOWN = 10_000;

/** The stable pseudonym of a user in the log: HMAC-SHA-256 of the user id, hex (memoised: it is deterministic). */
export function actorPseudonym(key: Buffer, userId: string): string {
  let memo = pseudonyms.get(key);
  if (!memo) {
    memo = { secret: createSecretKey(key), known: new Map() };
    pseudonyms.set(key, memo);
  }
  const id = userId.toLowerCase();
  let pseudonym = memo.known.get(id);
  if (pseudonym === undefined) {
    pseudonym = createHmac('sha256', memo.secret).update(id, 'utf8').digest('hex');
    if (memo.known.size >= MAX_KNOWN) memo.known.clear();
    memo.known.set(id, pseudonym);
  }
  return pseudonym;
}

/** The review's content hash: sha256 hex of the JCS of `{state, note}`. */
export const reviewHash = (state: string, note: string | null) => sha256Hex(jcs({ state, note }));

/** The entry as a JSON value (its JCS bytes are the leaf). */
export function entryObject(source: EntrySource, actorKey: Buffer): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    v: 1,
    type: source.type,
    reportId: source.reportId.toLowerCase(),
    revision: source.revision,
    kind: source.kind,
    formVersion: source.formVersion,
    centreCode: source.centreCode,
    table: source.table,
    contentHash: source.type === 'review' ? reviewHash(source.state!, source.note) : source.contentHash,
    receivedAt: source.receivedAt.toISOString(),
    actor: actorPseudonym(actorKey, source.actorId),
  };
  if (source.type === 'review') {
    entry.reviewId = Number(source.reviewId);
    entry.state = source.state;
  }
  if (source.type === 'photo') entry.photoId = source.photoId!.toLowerCase();
  return entry;
}

/** The exact bytes of the entry (RFC 8785 JCS, UTF-8). */
export const entryBytes = (source: EntrySource, actorKey: Buffer): Buffer =>
  Buffer.from(jcs(entryObject(source, actorKey)), 'utf8');

/** The fields of two entries that differ (for log:verify's `changed`). */
export function differingEntryFields(stored: Buffer, expected: Buffer): string[] {
  let a: Record<string, unknown>;
  try {
    a = JSON.parse(stored.toString('utf8')) as Record<string, unknown>;
  } catch {
    return ['(not JSON)'];
  }
  const b = JSON.parse(expected.toString('utf8')) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((key) => jcs(a[key] ?? null) !== jcs(b[key] ?? null));
}
