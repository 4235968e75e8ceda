#!/usr/bin/env node
// @ts-check
// testigo-verify: checks, offline and with no dependency, that a Testigo receipt is genuine and that its entry is in
// the log — the receipt's leaf hash, the log's signed promise, the signed checkpoint, the inclusion proof and,
// given an older checkpoint, the consistency proof (the log only grew). Exit 0 verified, 1 not verified, 2 usage.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  decodeBase64,
  decodeHash,
  EMPTY_ROOT,
  equalBytes,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
  verifyPromise,
} from './lib/tlog.mjs';

const USAGE = `Usage: testigo-verify --receipt FILE --checkpoint FILE --key FILE|TEXT [--proof FILE]
                      [--old-checkpoint FILE --consistency FILE] [--origin NAME] [--item N]
       testigo-verify --receipt FILE --url BASE [--token TOKEN] [--key FILE|TEXT] [--old-checkpoint FILE]

Checks a receipt from a Testigo server (the JSON answer of a POST that accepted something, a batch item, or the
"receipt" object itself) against the log's signed checkpoint:
  - the leaf hash is SHA-256(0x00 || entry)        - the log's signed promise of inclusion, when there is one
  - the checkpoint is signed by the log's key      - the inclusion proof leads from the leaf to the checkpoint's root
  - with --old-checkpoint: the consistency proof shows the old checkpoint's tree is a prefix of the new one

Options:
  --receipt FILE         the saved answer or receipt (JSON)
  --checkpoint FILE      the checkpoint (text of GET /v1/log/checkpoint)
  --key FILE|TEXT        the log's verifier key <name>+<id>+<key> (text of GET /v1/log/key), or a file holding it
  --proof FILE           the inclusion proof (JSON of GET /v1/log/proof/inclusion?leafHash=...&size=...)
  --old-checkpoint FILE  an older checkpoint of the same log, saved earlier
  --consistency FILE     the consistency proof (JSON of GET /v1/log/proof/consistency?from=OLD&to=NEW)
  --origin NAME          the log's origin, when it differs from the key's name
  --item N               which item of a batch answer (from 0), when it holds several receipts
  --url BASE             fetch what is not given from the server (e.g. http://localhost:3000)
  --token TOKEN          bearer token for --url (default: the TESTIGO_TOKEN environment variable)
  -h, --help             this text

Exit status: 0 verified, 1 not verified, 2 usage error.`;

class UsageError extends Error {}

/** @param {string} path @param {string} what */
function readText(path, what) {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${/** @type {Error} */ (error).message}`);
  }
}

/** @param {string} text @param {string} what @returns {any} */
function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${what} is not JSON`);
  }
}

/** @param {any} value */
const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The receipt inside a saved answer: the answer's `receipt`, the object itself, or one item of a batch answer.
 * @param {any} json @param {number | undefined} item
 */
function findReceipt(json, item) {
  if (isObject(json) && isObject(json.receipt)) return json.receipt;
  if (isObject(json) && 'entry' in json && 'leafHash' in json) return json;
  const list = Array.isArray(json) ? json : isObject(json) ? Object.values(json).find(Array.isArray) : undefined;
  if (list) {
    const receipts = list.map((element) => findReceiptOrNull(element)).filter(Boolean);
    if (item !== undefined) {
      if (!receipts[item]) throw new UsageError(`the file has no receipt number ${item} (${receipts.length} found)`);
      return receipts[item];
    }
    if (receipts.length === 1) return receipts[0];
    if (receipts.length > 1)
      throw new UsageError(`the file holds ${receipts.length} receipts: choose one with --item N`);
  }
  throw new UsageError('no receipt found in the file (expected {"receipt": {...}} or {"entry", "leafHash", ...})');
}

/** @param {any} json */
function findReceiptOrNull(json) {
  if (isObject(json) && isObject(json.receipt)) return json.receipt;
  if (isObject(json) && 'entry' in json && 'leafHash' in json) return json;
  return null;
}

/** Network access for --url. @param {string | undefined} base @param {string | undefined} token */
function server(base, token) {
  /** @param {string} path @returns {Promise<Response>} */
  const get = async (path) => {
    if (!base) throw new UsageError(`missing input: give it as a file, or --url to fetch ${path}`);
    const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
    const response = await globalThis.fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return response;
  };
  return {
    enabled: Boolean(base),
    /** @param {string} path */
    async text(path) {
      const response = await get(path);
      if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
      return response.text();
    },
    /** @param {string} path @returns {Promise<{status: number, body: any}>} */
    async json(path) {
      const response = await get(path);
      const text = await response.text();
      let body = null;
      try {
        body = JSON.parse(text);
      } catch {
        // a problem answer that is not JSON: keep the status only
      }
      return { status: response.status, body };
    },
  };
}

/** Prints check lines and remembers the first failure. */
function report() {
  /** @type {string | null} */
  let failure = null;
  return {
    /** @param {string} what */
    ok(what) {
      console.log(`\u2714 ${what}`);
    },
    /** @param {string} what @param {string} why */
    bad(what, why) {
      console.log(`\u2718 ${what}: ${why}`);
      failure ??= `${what}: ${why}`;
    },
    /** @param {string} what */
    note(what) {
      console.log(`  ${what}`);
    },
    /** @param {string} what @param {() => void} check */
    check(what, check) {
      try {
        check();
        this.ok(what);
        return true;
      } catch (error) {
        this.bad(what, /** @type {Error} */ (error).message);
        return false;
      }
    },
    get failure() {
      return failure;
    },
  };
}

/** @param {string[]} argv */
async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      receipt: { type: 'string' },
      checkpoint: { type: 'string' },
      key: { type: 'string' },
      proof: { type: 'string' },
      'old-checkpoint': { type: 'string' },
      consistency: { type: 'string' },
      origin: { type: 'string' },
      item: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.receipt) throw new UsageError('--receipt is required');
  if (!values.url && (!values.checkpoint || !values.key)) {
    throw new UsageError('--checkpoint and --key are required without --url');
  }
  if (values.consistency && !values['old-checkpoint']) throw new UsageError('--consistency needs --old-checkpoint');
  if (values.item !== undefined && !/^(0|[1-9][0-9]*)$/.test(values.item)) throw new UsageError('--item is a number');
  const net = server(values.url, values.token ?? process.env.TESTIGO_TOKEN);
  const out = report();

  // Inputs (reading or fetching them is not yet a check: a missing file is a usage error).
  const receipt = findReceipt(
    parseJson(readText(values.receipt, 'receipt'), 'the receipt'),
    values.item === undefined ? undefined : Number(values.item),
  );
  let keyText;
  if (values.key) {
    keyText = /^[^+\s]+\+[0-9a-f]{8}\+/.test(values.key.trim()) ? values.key : readText(values.key, 'key');
  } else {
    keyText = await net.text('v1/log/key');
    out.note('the verifier key was fetched from the server itself: compare it with one published elsewhere');
  }
  const checkpointText = values.checkpoint
    ? readText(values.checkpoint, 'checkpoint')
    : await net.text('v1/log/checkpoint');

  // 1. The key.
  let key;
  try {
    key = parseVerifierKey(keyText);
  } catch (error) {
    out.bad('verifier key', /** @type {Error} */ (error).message);
    return verdict(out);
  }
  out.ok(`verifier key ${key.name}+${key.keyIdHex}`);
  const origin = values.origin ?? key.name;

  // 2. The entry and its leaf hash.
  let entry;
  let leaf;
  try {
    entry = decodeBase64(receipt.entry, 'the receipt entry');
    leaf = decodeHash(receipt.leafHash, 'the receipt leaf hash');
  } catch (error) {
    out.bad('receipt', /** @type {Error} */ (error).message);
    return verdict(out);
  }
  printEntry(entry);
  if (equalBytes(leafHash(entry), leaf)) out.ok(`leaf hash ${leaf.toString('base64')} = SHA-256(0x00 || entry)`);
  else out.bad('leaf hash', `SHA-256(0x00 || entry) is ${leafHash(entry).toString('base64')}, not the receipt's`);

  // 3. The promise, when the receipt carries one.
  const logIndex = receipt.logIndex ?? null;
  if (logIndex !== null && (typeof logIndex !== 'number' || !Number.isSafeInteger(logIndex) || logIndex < 0)) {
    out.bad('receipt', 'logIndex is not a non-negative integer');
  }
  if (receipt.promise != null) {
    let due = 0;
    const ok = out.check('promise of inclusion signed by the log', () => {
      if (receipt.promise.leafHash !== receipt.leafHash) throw new Error('the promise is for another leaf hash');
      due = verifyPromise(key, origin, receipt.promise);
    });
    if (ok) out.note(`the log promised to include it by ${new Date(due).toISOString()}`);
  } else if (logIndex === null) {
    out.bad('receipt', 'neither a log index nor a promise');
  }

  // 4. The checkpoint.
  let checkpoint;
  try {
    checkpoint = openCheckpoint(checkpointText, key, origin);
    out.ok(`checkpoint signed by ${key.name}+${key.keyIdHex}: ${checkpoint.origin}, size ${checkpoint.size}`);
  } catch (error) {
    out.bad('checkpoint', /** @type {Error} */ (error).message);
    return verdict(out);
  }

  // 5. Inclusion.
  let proof = null;
  if (values.proof) {
    proof = parseJson(readText(values.proof, 'proof'), 'the inclusion proof');
  } else if (net.enabled) {
    const query = `leafHash=${encodeURIComponent(receipt.leafHash)}&size=${checkpoint.size}`;
    const answer = await net.json(`v1/log/proof/inclusion?${query}`);
    if (answer.status === 200) proof = answer.body;
    else out.note(`the server has no inclusion proof at size ${checkpoint.size} (HTTP ${answer.status})`);
  }
  let index = null;
  if (proof === null) {
    const due = receipt.promise?.timestamp + receipt.promise?.mergeDelayMs;
    const late = Number.isFinite(due) && Date.now() > due;
    out.bad(
      'inclusion',
      late
        ? 'no inclusion proof, and the promised merge delay has passed: ask the log again, or report the log'
        : 'no inclusion proof given (use --proof, or --url to fetch it)',
    );
  } else {
    out.check(`inclusion proof at index ${proof?.index} of size ${checkpoint.size}`, () => {
      if (!isObject(proof) || !Array.isArray(proof.proof)) throw new Error('not an inclusion proof');
      if (proof.size !== checkpoint.size) throw new Error(`the proof is for size ${proof.size}, not the checkpoint's`);
      if (proof.leafHash !== undefined && proof.leafHash !== receipt.leafHash) {
        throw new Error('the proof is for another leaf hash');
      }
      if (logIndex !== null && proof.index !== logIndex) {
        throw new Error(`the proof is for index ${proof.index}, the receipt says ${logIndex}`);
      }
      if (proof.rootHash !== undefined && !equalBytes(decodeHash(proof.rootHash, 'rootHash'), checkpoint.rootHash)) {
        throw new Error("the proof's root is not the checkpoint's");
      }
      const hashes = proof.proof.map((/** @type {unknown} */ h, /** @type {number} */ i) =>
        decodeHash(h, `proof[${i}]`),
      );
      verifyInclusion(proof.index, checkpoint.size, leaf, hashes, checkpoint.rootHash);
      index = proof.index;
    });
  }

  // 6. Consistency with an older checkpoint.
  if (values['old-checkpoint']) {
    const oldText = readText(values['old-checkpoint'], 'old checkpoint');
    let old;
    try {
      old = openCheckpoint(oldText, key, origin);
      out.ok(`old checkpoint signed by ${key.name}+${key.keyIdHex}: size ${old.size}`);
    } catch (error) {
      out.bad('old checkpoint', /** @type {Error} */ (error).message);
    }
    if (old) await checkConsistency(out, old, checkpoint, values.consistency, net);
  }

  return verdict(out, { index, checkpoint, entry });

  /**
   * @param {ReturnType<typeof report>} out @param {import('./lib/tlog.mjs').Checkpoint} old
   * @param {import('./lib/tlog.mjs').Checkpoint} current @param {string | undefined} file
   * @param {ReturnType<typeof server>} net
   */
  async function checkConsistency(out, old, current, file, net) {
    if (old.size === 0) {
      out.check('consistency: the old checkpoint is the empty tree, which every tree extends', () => {
        if (!equalBytes(old.rootHash, EMPTY_ROOT)) throw new Error('its root is not the empty tree’s');
      });
      return;
    }
    if (old.size > current.size) {
      out.bad('consistency', `the old checkpoint (size ${old.size}) is larger than the new one (${current.size})`);
      return;
    }
    let proof = null;
    if (file) proof = parseJson(readText(file, 'consistency proof'), 'the consistency proof');
    else if (old.size === current.size) proof = { from: old.size, to: current.size, proof: [] };
    else if (net.enabled) {
      const answer = await net.json(`v1/log/proof/consistency?from=${old.size}&to=${current.size}`);
      if (answer.status === 200) proof = answer.body;
      else out.note(`the server gave no consistency proof (HTTP ${answer.status})`);
    }
    if (proof === null) {
      out.bad('consistency', 'no consistency proof given (use --consistency, or --url to fetch it)');
      return;
    }
    out.check(`consistency proof from size ${old.size} to size ${current.size} (the log only grew)`, () => {
      if (!isObject(proof) || !Array.isArray(proof.proof)) throw new Error('not a consistency proof');
      if (proof.from !== old.size || proof.to !== current.size) {
        throw new Error(`the proof is from ${proof.from} to ${proof.to}, not ${old.size} to ${current.size}`);
      }
      const hashes = proof.proof.map((/** @type {unknown} */ h, /** @type {number} */ i) =>
        decodeHash(h, `proof[${i}]`),
      );
      verifyConsistency(old.size, current.size, hashes, old.rootHash, current.rootHash);
    });
  }
}

/**
 * @param {ReturnType<typeof report>} out
 * @param {{ index: number | null, checkpoint: import('./lib/tlog.mjs').Checkpoint, entry: Buffer | null }} [result]
 */
function verdict(out, result) {
  if (out.failure === null && result && result.index !== null) {
    console.log(
      `VERIFIED: entry ${leafHash(/** @type {Buffer} */ (result.entry)).toString('base64')} is included at index ` +
        `${result.index} of ${result.checkpoint.origin} size ${result.checkpoint.size}`,
    );
    return 0;
  }
  console.log(`NOT VERIFIED: ${out.failure ?? 'nothing was checked'}`);
  return 1;
}

/** Shows what was logged (the entry is canonical JSON; anything else is shown as text). @param {Buffer} entry */
function printEntry(entry) {
  const text = entry.toString('utf8');
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: show it as it is
  }
  console.log('Entry:');
  for (const line of shown.split('\n')) console.log(`  ${line}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    if (error instanceof UsageError || (error && error.code && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`testigo-verify: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.log(`NOT VERIFIED: ${error?.message ?? String(error)}`);
      process.exitCode = 1;
    }
  },
);
