// Schemas of the log: receipts (carried by every accepting answer), proofs, entries and the audit.
import { z } from 'zod';

const base64 = z.string().meta({ description: 'base64' });

export const receiptSchema = z
  .object({
    entry: base64.meta({ description: 'base64 of the exact entry bytes (RFC 8785 canonical JSON)' }),
    leafHash: base64.meta({ description: 'base64 of SHA-256(0x00 ‖ entry) (RFC 9162)' }),
    logIndex: z.null().meta({
      description:
        'Always null (the receipt is the same on every replay); GET /v1/log/proof/inclusion?leafHash= gives it',
    }),
    promise: z
      .object({
        leafHash: base64,
        timestamp: z.number().int().meta({ description: 'ms since the epoch: when the row was accepted' }),
        mergeDelayMs: z
          .number()
          .int()
          .meta({ description: 'the entry is in a checkpoint by timestamp + mergeDelayMs' }),
        keyId: z.string().meta({ description: "the log key's id, 8 hex digits" }),
        signature: base64.meta({ description: 'Ed25519 over testigo-promise/v1 (see the README)' }),
      })
      .meta({ description: "The log's signed promise to include the entry within the merge delay" }),
  })
  .meta({ id: 'LogReceipt' });

const count = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const hashParam = z
  .string()
  .regex(/^[A-Za-z0-9+/_-]{43}=?$/, 'base64 (or base64url) of 32 bytes')
  .meta({ description: 'base64 of the leaf hash (base64url accepted)' });

export const inclusionQuery = z
  .strictObject({ index: count.optional(), leafHash: hashParam.optional(), size: count.optional() })
  .refine((query) => (query.index === undefined) !== (query.leafHash === undefined), {
    message: 'send index or leafHash (one of them)',
    path: ['index'],
  });
export const consistencyQuery = z.strictObject({ from: count, to: count.optional() });
export const entriesQuery = z.strictObject({ start: count, end: count });

export const inclusionSchema = z
  .object({
    index: z.number().int(),
    size: z.number().int(),
    leafHash: base64,
    rootHash: base64,
    proof: z.array(base64),
  })
  .meta({ id: 'LogInclusionProof' });
export const consistencySchema = z
  .object({ from: z.number().int(), to: z.number().int(), proof: z.array(base64) })
  .meta({ id: 'LogConsistencyProof' });
export const entriesSchema = z
  .object({ entries: z.array(z.object({ index: z.number().int(), leafHash: base64, entry: base64 })) })
  .meta({ id: 'LogEntries' });
export const auditSchema = z
  .object({
    ok: z.boolean(),
    checked: z.object({
      size: z.number().int(),
      leaves: z.number().int(),
      rows: z.number().int(),
      checkpoints: z.number().int(),
      treeFrom: z.number().int(),
      rootHash: z.string().nullable(),
    }),
    problems: z.array(
      z.object({
        problem: z.enum(['changed', 'deleted', 'missing from the log', 'log rewritten']),
        reportId: z.string().nullable(),
        index: z.number().int().nullable(),
        type: z.enum(['report', 'revision', 'review', 'photo']).nullable(),
        detail: z.string(),
      }),
    ),
  })
  .meta({ id: 'LogAudit' });
