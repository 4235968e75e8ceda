// The log's keys: the Ed25519 signer of checkpoints and promises (LOG_SIGNING_KEY, or a key generated at first
// start and kept in DATA_DIR/log/signing.key, mode 0600, never in the database), the log's origin, and the key
// of actors' pseudonyms (LOG_ACTOR_SECRET, or derived from the signer key, so that every process sharing the log
// key agrees). A malformed key is a configuration error (the server exits 78).
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Config, ConfigError } from '../../config.js';
import { generateSigner, parseSignerKey, type Signer } from './note.js';

export const DEFAULT_LOG_ORIGIN = 'testigo.local/log';

export interface LogKeys {
  origin: string;
  signer: Signer;
  /** The verifier key text `<name>+<hex id>+<base64>`. */
  verifierKey: string;
  actorKey: Buffer;
  /** Where the signer key came from: the environment, the data directory, or generated there now. */
  source: 'LOG_SIGNING_KEY' | 'file' | 'generated';
  path?: string;
}

type KeyConfig = Pick<Config, 'DATA_DIR' | 'LOG_ORIGIN' | 'LOG_SIGNING_KEY' | 'LOG_ACTOR_SECRET'>;

export const signingKeyPath = (dataDir: string) => resolve(join(dataDir, 'log', 'signing.key'));

function parse(text: string, where: string): Signer {
  try {
    return parseSignerKey(text.trim());
  } catch (error) {
    throw new ConfigError([
      `${where}: not a C2SP Ed25519 signer key (PRIVATE+KEY+<name>+<id>+<key>): ${(error as Error).message}`,
    ]);
  }
}

/**
 * The log's keys for `config`. Without LOG_SIGNING_KEY, the key in DATA_DIR is read, or (unless `generate` is
 * false: the CLI only verifies) generated there at first start; two processes starting at once keep the first.
 */
export async function loadLogKeys(config: KeyConfig, options: { generate?: boolean } = {}): Promise<LogKeys> {
  let signer: Signer;
  let source: LogKeys['source'];
  let path: string | undefined;
  if (config.LOG_SIGNING_KEY) {
    signer = parse(config.LOG_SIGNING_KEY, 'LOG_SIGNING_KEY');
    source = 'LOG_SIGNING_KEY';
  } else {
    path = signingKeyPath(config.DATA_DIR);
    const existing = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new ConfigError([`DATA_DIR: cannot read the log signing key ${path}: ${error.message}`]);
    });
    if (existing !== undefined) {
      signer = parse(existing, path);
      source = 'file';
    } else {
      if (options.generate === false)
        throw new ConfigError([`LOG_SIGNING_KEY: not set, and no key in ${path} (start the server once to make one)`]);
      const text = generateSigner(config.LOG_ORIGIN ?? DEFAULT_LOG_ORIGIN).signerKey;
      try {
        await mkdir(join(config.DATA_DIR, 'log'), { recursive: true, mode: 0o700 });
        await writeFile(path, `${text}\n`, { mode: 0o600, flag: 'wx' });
        signer = parse(text, path);
        source = 'generated';
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new ConfigError([`DATA_DIR: cannot write the log signing key ${path}: ${(error as Error).message}`]);
        signer = parse(await readFile(path, 'utf8'), path); // another process made it first
        source = 'file';
      }
    }
  }
  if (config.LOG_ORIGIN && config.LOG_ORIGIN !== signer.name)
    throw new ConfigError([
      `LOG_ORIGIN: "${config.LOG_ORIGIN}" differs from the name of the log signing key ("${signer.name}")`,
    ]);
  const actorKey = config.LOG_ACTOR_SECRET
    ? Buffer.from(config.LOG_ACTOR_SECRET, 'utf8')
    : createHash('sha256')
        .update('testigo log actor pseudonyms\n')
        // The seed in base64url: what a JWK export's `d` was, so the pseudonyms stay what they were.
        .update(signer.seed.toString('base64url'))
        .digest();
  return {
    origin: signer.name,
    signer,
    verifierKey: signer.verifierKey,
    actorKey,
    source,
    ...(path ? { path } : {}),
  };
}
