// The dashboard in Chromium against the real app (listening) and PostgreSQL: it loads without console
// errors or failed requests, shows the API's numbers, updates live, draws a shape per state, works by
// keyboard, speaks Spanish with Spanish numbers, and in public mode needs no token and hides the missing list.
import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import { launchBrowser, listen, signIn, watchedPage } from '../helpers/browser.js';
import { createReport, registryWithTables, seedRegistry, setElection } from '../helpers/factories.js';

// The page's globals as the callbacks given to page.evaluate see them (tests are compiled without DOM types).
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  activeElement: { id: string } | null;
  documentElement: { scrollWidth: number };
};
declare const window: { marker?: boolean };
declare const sessionStorage: { getItem(key: string): string | null };
declare function getComputedStyle(element: unknown): { outlineStyle: string };

const env = { MAX_EVENT_LOOP_DELAY_MS: '0', RATE_LIMIT_PER_TOKEN: '0', RATE_LIMIT_PER_IP: '0' };
const context = await setupTestApp({ env });
const open = await setupTestApp({ env: { ...env, PUBLIC_SUMMARIES: 'true' } });
const browser = await launchBrowser();
const hasMap = context.app.hasRoute({ method: 'GET', url: '/v1/summaries.geojson' });
const hasStream = context.app.hasRoute({ method: 'GET', url: '/v1/summaries/stream' });
const hasAnalysis = context.app.hasRoute({ method: 'GET', url: '/v1/analysis' });
const en = new Intl.NumberFormat('en-US');

let base = '';
let openBase = '';

/** 4 results of 300/190/10 at tables 101–104 of 010101001, an opening and an incident there. */
async function seed({ app, admin }: typeof context) {
  await seedRegistry(app, admin, registryWithTables(6));
  await setElection(app, admin);
  await createReport(app, admin, 'opening');
  await createReport(app, admin, 'incident');
  await createReport(app, admin, 'voting');
  for (const table of [101, 102, 103, 104]) {
    await createReport(app, admin, 'results', { registeredVoters: 700 }, { table });
  }
}

beforeAll(async () => {
  await seed(context);
  await seed(open);
  base = await listen(context.app);
  openBase = await listen(open.app);
});

async function national(app = context.app, headers: Record<string, string> = context.admin.headers) {
  const response = await app.inject({ url: '/v1/summaries/national', headers });
  expect(response.statusCode).toBe(200);
  return response.json();
}

async function withPage<T>(
  options: { locale?: string },
  run: (page: Page, problems: string[], browserContext: BrowserContext) => Promise<T>,
): Promise<T> {
  const browserContext = await browser.newContext({
    locale: options.locale ?? 'en-US',
    viewport: { width: 1280, height: 900 },
  });
  try {
    const { page, problems } = await watchedPage(browserContext);
    return await run(page, problems, browserContext);
  } finally {
    await browserContext.close();
  }
}

describe('GET /dashboard in Chromium', () => {
  it('signs in with a token and shows the API’s numbers, without console errors or failed requests', async () => {
    await withPage({}, async (page, problems) => {
      await signIn(page, base, context.admin.token);
      const row = await national();
      const c = row.coverage;
      const votes = page.locator('li[data-candidate="EG"] .votes');
      await expect.poll(() => votes.textContent()).toBe(en.format(row.results.votes.EG));
      expect(await votes.textContent()).toMatch(/^\d,\d{3}$/); // 4 × 300 or more: thousands separated
      expect(await page.locator('li[data-candidate="NM"] .votes').textContent()).toBe(en.format(row.results.votes.NM));
      expect(await page.locator('li[data-candidate="EG"] .bar-name').textContent()).toBe('Edmundo González');
      expect(await page.locator('#h-reporting').textContent()).toMatch(
        new RegExp(`^${c.centresReporting} of ${c.centres} \\(`),
      );
      expect(await page.locator('#h-tables').textContent()).toMatch(
        new RegExp(`^${c.tablesCounted} of ${c.tables} \\(`),
      );
      expect(await page.locator('#h-turnout').textContent()).toBe(
        new Intl.NumberFormat('en-US', { style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(
          row.results.turnout,
        ),
      );
      // A state's row in the table, against the API's row.
      const states = (
        await context.app.inject({ url: '/v1/summaries?level=state', headers: context.admin.headers })
      ).json().items as { code: string; coverage: { tablesCounted: number; tables: number } }[];
      const capital = states.find((state) => state.code === '01')!;
      expect(await page.locator('#states tr[data-code="01"] td[data-column="tables"]').textContent()).toBe(
        `${capital.coverage.tablesCounted} of ${capital.coverage.tables}`,
      );
      // The missing-centres list (signed in, not public): centres without an opening report.
      await expect.poll(() => page.locator('#missing li').count()).toBe(4);
      expect(await page.locator('#incidents svg rect.bar').count()).toBe(1);
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
      // Sorting the table by a column button sets aria-sort.
      await page.locator('#states button[data-sort="tables"]').click();
      expect(await page.locator('#states th[aria-sort="ascending"] button').getAttribute('data-sort')).toBe('tables');
      await page.locator('#states button[data-sort="tables"]').click();
      expect(await page.locator('#states th[aria-sort="descending"] button').getAttribute('data-sort')).toBe('tables');
      expect(await page.locator('#states tbody tr').first().getAttribute('data-code')).toBe('01');
      await page.waitForTimeout(1500); // a few polls, which must not fail either
      expect(problems).toEqual([]);
    });
  });

  it('shows a report posted meanwhile within 2 s, without a reload', async () => {
    await withPage({}, async (page, problems) => {
      await signIn(page, base, context.admin.token);
      const votes = page.locator('li[data-candidate="EG"] .votes');
      const before = (await national()).results.votes.EG as number;
      await expect.poll(() => votes.textContent()).toBe(en.format(before));
      await page.evaluate(() => {
        window.marker = true;
      });
      await createReport(context.app, context.admin, 'results', { registeredVoters: 700 }, { table: 105 });
      const posted = Date.now();
      await page.waitForFunction(
        (want) => document.querySelector('li[data-candidate="EG"] .votes')?.textContent === want,
        en.format(before + 300),
        { timeout: 2000 },
      );
      console.log(
        `dashboard: a new report showed ${Date.now() - posted} ms after it was posted (${hasStream ? 'stream' : 'polling'})`,
      );
      // Streamed when the server has the stream, else polled.
      expect(await page.locator('#live-status').getAttribute('data-mode')).toBe(hasStream ? 'stream' : 'polling');
      // The same document: no reload happened.
      expect(await page.evaluate(() => window.marker)).toBe(true);
      expect(problems).toEqual([]);
    });
  });

  it('falls back to polling with If-None-Match when the stream is refused (429), and still updates within 2 s', async () => {
    await withPage({}, async (page, problems) => {
      let streamAsked = 0;
      await page.route('**/v1/summaries/stream', (route) => {
        streamAsked += 1;
        return route.fulfill({
          status: 429,
          contentType: 'application/problem+json',
          headers: { 'retry-after': '30' },
          body: JSON.stringify({ status: 429, code: 'TOO_MANY_STREAMS' }),
        });
      });
      const conditional: string[] = [];
      page.on('request', (request) => {
        if (request.url().includes('/v1/summaries?level=state') && request.headers()['if-none-match'])
          conditional.push(request.headers()['if-none-match']!);
      });
      await signIn(page, base, context.admin.token);
      const votes = page.locator('li[data-candidate="EG"] .votes');
      await expect.poll(() => votes.textContent()).not.toBe('');
      const before = Number((await votes.textContent())!.replace(/\D/g, ''));
      await page.locator('#live-status[data-mode="polling"]').waitFor();
      await createReport(context.app, context.admin, 'results', { registeredVoters: 700 }, { table: 106 });
      await page.waitForFunction(
        (want) => document.querySelector('li[data-candidate="EG"] .votes')?.textContent === want,
        en.format(before + 300),
        { timeout: 2000 },
      );
      expect(conditional.length).toBeGreaterThan(0);
      expect(streamAsked).toBe(hasStream ? 1 : 0);
      // The refused stream is the only failed request (and its console line), and only when it was asked for.
      const expected = hasStream
        ? [expect.stringMatching(/status of 429/), expect.stringMatching(/^HTTP 429: .*\/v1\/summaries\/stream$/)]
        : [];
      expect(problems).toHaveLength(expected.length);
      expect(problems).toEqual(expect.arrayContaining(expected));
    });
  });

  it.skipIf(!hasStream)('reads summary events from the stream and resumes with Last-Event-ID after a cut', async () => {
    await withPage({}, async (page, problems) => {
      const asked: (string | undefined)[] = [];
      const states = (
        await context.app.inject({ url: '/v1/summaries?level=state', headers: context.admin.headers })
      ).json().items as unknown[];
      const row = await national();
      await page.route('**/v1/summaries/stream', async (route) => {
        asked.push(route.request().headers()['last-event-id']);
        if (asked.length > 1) return route.continue();
        // The first connection: one event (EG shown as 4,242,424) and the end of the stream, as a cut would.
        const marked = { ...row, results: { ...row.results, votes: { ...row.results.votes, EG: 4_242_424 } } };
        const event = `: hello\n\nevent: summary\nid: 4242\ndata: ${JSON.stringify({ version: 4242, national: marked, states })}\n\n`;
        return route.fulfill({ status: 200, contentType: 'text/event-stream', body: event });
      });
      await signIn(page, base, context.admin.token);
      const votes = page.locator('li[data-candidate="EG"] .votes');
      await expect.poll(() => votes.textContent(), { timeout: 5000 }).toBe('4,242,424');
      await expect.poll(() => asked.length, { timeout: 5000 }).toBeGreaterThan(1);
      expect(asked.slice(0, 2)).toEqual([undefined, '4242']);
      // The real stream then brings the real figures back.
      await expect.poll(() => votes.textContent(), { timeout: 5000 }).toBe(en.format(row.results.votes.EG));
      expect(problems).toEqual([]);
    });
  });

  it.skipIf(!hasMap)(
    'draws one focusable, named shape per state, shaded with a legend; a click shows its municipalities',
    async () => {
      await withPage({}, async (page, problems) => {
        await signIn(page, base, context.admin.token);
        await page.locator('#map-panel:not([hidden])').waitFor();
        // One shape per state of the registry (the sample has two; the real registry's 24 are in real-2024.test.ts).
        expect(await page.locator('#map path.state[data-code]').count()).toBe(2);
        expect(await page.locator('#map path.state[data-code="01"]').getAttribute('aria-label')).toMatch(
          /DISTRITO|CAPITAL/i,
        );
        // The sample registry has states 01 and 13 (both shaded by coverage); only 01 has counted results.
        // Shaded once the states' rows are in (the map's shapes may be drawn before them).
        await expect.poll(() => page.locator('#map path.state[data-shaded="coverage"]').count()).toBe(2);
        await page.locator('input[value="leader"]').check();
        await expect.poll(() => page.locator('#map path.state[data-shaded="leader"]').count()).toBe(1);
        expect(await page.locator('#legend li').allTextContents()).toContain('Edmundo González');
        // A click on a state shows its municipalities.
        await page.locator('#map path.state[data-code="13"]').click();
        await page.locator('#state-detail[data-code="13"]').waitFor();
        expect(await page.locator('#municipalities tbody tr').count()).toBe(2);
        expect(problems).toEqual([]);
      });
    },
  );

  it.skipIf(!hasAnalysis)('shows the process analysis of the chosen form per question and state', async () => {
    await withPage({}, async (page, problems) => {
      await signIn(page, base, context.admin.token);
      await page.locator('#analysis-panel:not([hidden])').waitFor();
      expect(await page.locator('#analysis-form').inputValue()).toBe('voting');
      await page.locator('#analysis table').first().waitFor();
      const api = (
        await context.app.inject({ url: '/v1/analysis?kind=voting&level=state', headers: context.admin.headers })
      ).json() as { rows: { code: string; name: string; units: { reporting: number; total: number } }[] };
      const capital = api.rows.find((row) => row.code === '01')!;
      expect(await page.locator('#analysis h3').count()).toBeGreaterThan(0);
      const row = page.locator('#analysis table').first().locator('tr', { hasText: capital.name });
      expect(await row.locator('td').first().textContent()).toBe(
        `${en.format(capital.units.reporting)} of ${en.format(capital.units.total)}`,
      );
      expect(problems).toEqual([]);
    });
  });

  it('by keyboard: Tab to a state and Enter shows its municipalities', async () => {
    await withPage({}, async (page, problems) => {
      await signIn(page, base, context.admin.token);
      await page.locator('#states tr[data-code="01"]').waitFor();
      if (hasMap) await page.locator('#map path.state').first().waitFor();
      const target = hasMap ? '#map path.state[data-code="01"]' : '#states tr[data-code="01"] button.link';
      await page.locator('body').focus();
      let reached = false;
      for (let presses = 0; presses < 120 && !reached; presses += 1) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(
          (selector) => document.activeElement === document.querySelector(selector),
          target,
        );
      }
      expect(reached, `Tab reached ${target}`).toBe(true);
      await page.keyboard.press('Enter');
      await page.locator('#state-detail:not([hidden])').waitFor();
      expect(await page.locator('#state-title').textContent()).toBe('DTTO. CAPITAL');
      expect(await page.locator('#municipalities tbody tr').allTextContents()).toEqual([
        expect.stringContaining('MP. LIBERTADOR'),
      ]);
      // The focus moved to the detail, so a keyboard user lands on what appeared.
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('state-detail');
      expect(problems).toEqual([]);
    });
  });

  it('in Spanish (es-VE): the words and the numbers of that locale', async () => {
    await withPage({ locale: 'es-VE' }, async (page, problems) => {
      await page.goto(`${base}/dashboard`);
      await page.getByLabel('Clave de acceso').fill(context.admin.token);
      await page.getByRole('button', { name: 'Entrar' }).click();
      const row = await national();
      const votes = page.locator('li[data-candidate="EG"] .votes');
      await expect.poll(() => votes.textContent()).toBe(new Intl.NumberFormat('es-VE').format(row.results.votes.EG));
      expect(await votes.textContent()).toMatch(/^\d\.\d{3}$/); // thousands separated by a point
      expect(await page.locator('html').getAttribute('lang')).toBe('es');
      expect(await page.locator('#headline-title').textContent()).toBe('Nacional');
      expect(await page.locator('#missing-kind option[value="opening"]').textContent()).toBe('Apertura');
      expect(await page.locator('#h-turnout').textContent()).toMatch(/^\d+,\d\d\s?%$/);
      expect(problems).toEqual([]);
    });
  });

  it('signs out: the token is forgotten and the sign-in form is back', async () => {
    await withPage({}, async (page, problems) => {
      await signIn(page, base, context.admin.token);
      await page.getByRole('button', { name: 'Sign out' }).click();
      expect(await page.evaluate(() => sessionStorage.getItem('testigo.token'))).toBeNull();
      expect(await page.locator('#main').isHidden()).toBe(true);
      expect(await page.getByLabel('Access token').isVisible()).toBe(true);
      expect(problems).toEqual([]);
    });
  });

  it('a coordinator of one state: no national headline, its state, no refused request; an observer is told why not', async () => {
    const coordinator = await createActor(context.app, 'coordinator', { scopeRegion: '01' });
    await withPage({}, async (page, problems) => {
      await signIn(page, base, coordinator.token);
      await page.locator('#states tr[data-code="01"]').waitFor();
      expect(await page.locator('#states tbody tr').count()).toBe(1);
      expect(await page.locator('#headline').isHidden()).toBe(true);
      await page.waitForTimeout(1500);
      expect(problems).toEqual([]);
    });
    const observer = await createActor(context.app, 'observer');
    await withPage({}, async (page, problems) => {
      await page.goto(`${base}/dashboard`);
      await page.getByLabel('Access token').fill(observer.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('#signin-error').textContent()).toMatch(/cannot read summaries/);
      expect(await page.locator('#main').isHidden()).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('testigo.token'))).toBeNull();
      expect(problems).toEqual([]);
    });
  });

  it('with PUBLIC_SUMMARIES=true: no sign-in, the results, and no missing-centres list', async () => {
    await withPage({}, async (page, problems) => {
      await page.goto(`${openBase}/dashboard`);
      const row = await national(open.app, {});
      const votes = page.locator('li[data-candidate="EG"] .votes');
      await expect.poll(() => votes.textContent()).toBe(en.format(row.results.votes.EG));
      expect(await page.locator('li[data-candidate="EG"] .bar-name').textContent()).toBe('Edmundo González');
      expect(await page.locator('#signin').isHidden()).toBe(true);
      expect(await page.locator('#missing-panel').isHidden()).toBe(true);
      expect(await page.locator('#missing li').count()).toBe(0);
      await page.waitForTimeout(1500);
      expect(problems).toEqual([]);
    });
  });

  it('is accessible: landmarks, labelled controls, named buttons, and text contrast of at least 4.5:1', async () => {
    await withPage({}, async (page, problems) => {
      await signIn(page, base, context.admin.token);
      await page.locator('#states tr[data-code="01"]').waitFor();
      await page.locator('#states tr[data-code="01"] button.link').click();
      await page.locator('#state-detail:not([hidden])').waitFor();
      expect(await page.locator('header, main, footer').count()).toBe(3);
      // Runs in the page: every visible text's contrast against its nearest opaque background, every
      // control's label, every button's name.
      const report = (await page.evaluate(`(() => {
        const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
        const luminance = ([r, g, b]) => {
          const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
          return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
        };
        const background = (element) => {
          for (let node = element; node; node = node.parentElement) {
            const colour = rgb(getComputedStyle(node).backgroundColor);
            if (colour.length >= 3 && (colour[3] === undefined || colour[3] > 0.5)) return colour;
          }
          return [255, 255, 255];
        };
        const low = [];
        let checked = 0;
        for (const element of document.querySelectorAll('body *')) {
          if (element.closest('svg')) continue;
          const own = [...element.childNodes].some((node) => node.nodeType === 3 && node.textContent.trim());
          if (!own || !element.checkVisibility()) continue;
          const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background(element))];
          const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
          checked += 1;
          if (ratio < 4.5) low.push(element.tagName + ' ' + element.textContent.trim().slice(0, 30) + ' ' + ratio.toFixed(2));
        }
        const unlabelled = [...document.querySelectorAll('input, select')]
          .filter((control) => control.labels.length === 0 && !control.getAttribute('aria-label'))
          .map((control) => control.id || control.name);
        const unnamed = [...document.querySelectorAll('button')]
          .filter((button) => !button.textContent.trim() && !button.getAttribute('aria-label'))
          .map((button) => button.outerHTML.slice(0, 60));
        return { checked, low, unlabelled, unnamed };
      })()`)) as { checked: number; low: string[]; unlabelled: string[]; unnamed: string[] };
      expect(report.checked).toBeGreaterThan(50);
      expect(report).toMatchObject({ low: [], unlabelled: [], unnamed: [] });
      // Focus is visible: a focused control gets an outline.
      await page.locator('#states button[data-sort="name"]').focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      expect(
        await page
          .locator('#states button[data-sort="name"]')
          .evaluate((element) => getComputedStyle(element).outlineStyle),
      ).toBe('solid');
      expect(problems).toEqual([]);
    });
  });

  it('is usable 360 px wide: nothing wider than the screen', async () => {
    await withPage({}, async (page, problems) => {
      await page.setViewportSize({ width: 360, height: 740 });
      await page.goto(`${openBase}/dashboard`);
      await page.locator('li[data-candidate="EG"] .votes').waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      expect(problems).toEqual([]);
    });
  });
});
