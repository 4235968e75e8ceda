// Bearer tokens: 256 random bits shown once as `tg_<base64url>`; only their sha256 is stored.
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'tg_';

export interface NewToken {
  /** The secret, returned to the caller once and never stored. */
  secret: string;
  hash: string;
  /** The first characters of the secret, to recognise a token in lists. */
  prefix: string;
}

export const hashToken = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

export function newToken(secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`): NewToken {
  return { secret, hash: hashToken(secret), prefix: secret.slice(0, 10) };
}

/**
 * Whether a bearer secret could be a token: issued ones are `tg_` and 43 characters, an ADMIN_TOKEN at least
 * 32 printable characters. Anything shorter is junk, refused without a bucket of its own.
 */
export const isWellFormedToken = (secret: string): boolean => /^[\x21-\x7e]{32,512}$/.test(secret);
