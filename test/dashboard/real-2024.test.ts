// The README's screenshot: the dashboard in Chromium with the real 2024 outcome loaded as `npm run demo --
// --with-results` loads it — the registry (seed/ve2024) and the 24,532 tally sheets as results reports through
// POST /v1/reports/batch (loadDemoResults) — showing González 7,156,462, Maduro 3,241,461, turnout 60.07% and
// 24 shaded states, then written to docs/dashboard.png.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadDemoResults } from '../../src/cli/demo-results.js';
import { DEMO_REGISTRY } from '../../src/cli/registry-files.js';
import { setupTestApp } from '../helpers/app.js';
import { launchBrowser, listen, watchedPage } from '../helpers/browser.js';
import { ROOT } from '../helpers/server-process.js';

export const SCREENSHOT = join(ROOT, 'docs', 'dashboard.png');
const SHEETS = 24_532;

const context = await setupTestApp({
  env: { MAX_EVENT_LOOP_DELAY_MS: '0', RATE_LIMIT_PER_TOKEN: '0', RATE_LIMIT_PER_IP: '0', PUBLIC_SUMMARIES: 'true' },
});

describe('the dashboard with the real 2024 results', () => {
  it(
    'shows González 7,156,462, Maduro 3,241,461, turnout 60.07% and 24 shaded states; the screenshot is written',
    async () => {
      const { app, admin } = context;
      const started = performance.now();
      const registry = await app.inject({
        method: 'POST',
        url: '/v1/registry/import',
        headers: { 'content-type': 'text/csv', ...admin.headers },
        body: gunzipSync(readFileSync(DEMO_REGISTRY)),
      });
      expect(registry.statusCode, registry.body).toBe(200);
      const loaded = await loadDemoResults(app, { authorization: admin.headers.authorization });
      expect(loaded).toMatchObject({ total: SHEETS, created: SHEETS, failed: 0 });
      console.log(
        `dashboard 2024: registry and ${SHEETS} tally sheets loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );

      const base = await listen(app);
      const browser = await launchBrowser();
      const browserContext = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
      const { page, problems } = await watchedPage(browserContext);
      await page.goto(`${base}/dashboard`);
      const votes = (code: string) => page.locator(`li[data-candidate="${code}"] .votes`);
      await expect.poll(() => votes('EG').textContent(), { timeout: 10_000 }).toBe('7,156,462');
      expect(await votes('NM').textContent()).toBe('3,241,461');
      expect(await page.locator('li[data-candidate="EG"] .bar-name').textContent()).toBe('Edmundo González Urrutia');
      expect(await page.locator('#h-turnout').textContent()).toBe('60.07%');
      expect(await page.locator('#h-tables').textContent()).toMatch(/^24,532 of 24,532 /);
      expect(await page.locator('#states tbody tr').count()).toBe(24);
      await page.locator('#map-panel:not([hidden])').waitFor();
      expect(await page.locator('#map path.state[data-code]').count()).toBe(24);
      expect(await page.locator('#map path.state[data-shaded="coverage"]').count()).toBe(24);
      await page.locator('input[value="leader"]').check();
      expect(await page.locator('#map path.state[data-shaded="leader"]').count()).toBe(24);
      expect(problems).toEqual([]);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      await browserContext.close();
    },
    10 * 60_000,
  );
});
