// The dashboard's routes (no browser): the page and its files, public, with a same-origin-only CSP; GET /
// redirects; library files come from node_modules under a versioned, long-cached path; the page's config
// module says whether summaries are public; with PUBLIC_SUMMARIES the election (the candidates' names) is public.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { setupTestApp } from '../helpers/app.js';
import { setElection } from '../helpers/factories.js';
import { ROOT } from '../helpers/server-process.js';

const privateApp = await setupTestApp();
const publicApp = await setupTestApp({ env: { PUBLIC_SUMMARIES: 'true' } });
const parserVersion = (
  JSON.parse(readFileSync(`${ROOT}/node_modules/eventsource-parser/package.json`, 'utf8')) as { version: string }
).version;

describe('dashboard routes', () => {
  it('GET / redirects to /dashboard', async () => {
    const response = await privateApp.app.inject({ url: '/' });
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe('/dashboard');
  });

  it('GET /dashboard answers the page without a token, with a CSP allowing only this origin, and 304 on its ETag', async () => {
    const response = await privateApp.app.inject({ url: '/dashboard' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toContain('<script type="module" src="/dashboard/app.js"></script>');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/unsafe|https?:/);
    expect(response.headers['cache-control']).toBe('no-cache');
    const again = await privateApp.app.inject({
      url: '/dashboard',
      headers: { 'if-none-match': String(response.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('serves the page’s modules and styles with their content types', async () => {
    for (const [url, type] of [
      ['/dashboard/app.js', 'text/javascript; charset=utf-8'],
      ['/dashboard/live.js', 'text/javascript; charset=utf-8'],
      ['/dashboard/dashboard.css', 'text/css; charset=utf-8'],
    ] as const) {
      const response = await privateApp.app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type'], url).toBe(type);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    }
    expect((await privateApp.app.inject({ url: '/dashboard/nothing.js' })).statusCode).toBe(404);
    expect((await privateApp.app.inject({ url: '/dashboard/../package.json' })).statusCode).toBe(404);
  });

  it('serves only the listed library files, from node_modules, under a versioned path cached for a year', async () => {
    const base = `/dashboard/vendor/eventsource-parser@${parserVersion}/dist`;
    const response = await privateApp.app.inject({ url: `${base}/index.js` });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(response.body).toBe(readFileSync(`${ROOT}/node_modules/eventsource-parser/dist/index.js`, 'utf8'));
    expect((await privateApp.app.inject({ url: `${base}/parse.js` })).statusCode).toBe(200);
    expect((await privateApp.app.inject({ url: `${base}/stream.js` })).statusCode).toBe(404);
    expect((await privateApp.app.inject({ url: `${base}/index.js.map` })).statusCode).toBe(404);
  });

  it('the config module tells the page whether summaries are public and where its library is', async () => {
    const closed = await privateApp.app.inject({ url: '/dashboard/config.js' });
    expect(closed.statusCode).toBe(200);
    expect(closed.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(closed.body).toContain('"publicSummaries": false');
    expect(closed.body).toContain(`/dashboard/vendor/eventsource-parser@${parserVersion}/dist/index.js`);
    expect((await publicApp.app.inject({ url: '/dashboard/config.js' })).body).toContain('"publicSummaries": true');
  });

  it('GET /v1/election needs a token, unless PUBLIC_SUMMARIES', async () => {
    await setElection(privateApp.app, privateApp.admin);
    await setElection(publicApp.app, publicApp.admin);
    expect((await privateApp.app.inject({ url: '/v1/election' })).statusCode).toBe(401);
    const open = await publicApp.app.inject({ url: '/v1/election' });
    expect(open.statusCode).toBe(200);
    expect(open.json().candidates[0]).toMatchObject({ code: 'EG', name: 'Edmundo González' });
  });
});
