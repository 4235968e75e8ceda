// Calls to the API: the token (kept in sessionStorage), and GETs that answer {status, body, etag}.
import config from './config.js';

const KEY = 'testigo.token';

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
};

export function authHeaders() {
  const token = session.token;
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** GET `path`; with `etag`, If-None-Match (304 answers body null). Network failures answer status 0. */
export async function get(path, { etag, signal } = {}) {
  // Signed out (a panel still loading when the user left): outside public mode nothing is readable without a token.
  if (!session.token && !config.publicSummaries) return { status: 401, body: null, etag: null };
  const headers = { accept: 'application/json', ...authHeaders() };
  if (etag) headers['if-none-match'] = etag;
  let response;
  try {
    response = await fetch(path, { headers, cache: 'no-store', signal });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    return { status: 0, body: null, etag: null };
  }
  const tag = response.headers.get('etag');
  if (response.status === 304 || !response.ok) {
    // Drain the body so the connection is reused; a problem's details are not shown on the page.
    await response.text().catch(() => '');
    return { status: response.status, body: null, etag: tag };
  }
  return { status: response.status, body: await response.json(), etag: tag };
}
