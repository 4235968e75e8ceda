// Driving the dashboard in a real browser: Debian's Chromium (/usr/bin/chromium, or $CHROMIUM_PATH) through
// playwright-core, against the real app listening on a free port. A missing Chromium fails the tests (CI
// installs it, see .ci/run): a browser test that silently skips proves nothing.
import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  afterAll(async () => {
    await browser.close();
  });
  return browser;
}

/** The app listening on 127.0.0.1 and a free port; answers its base URL (the app closes it in afterAll). */
export async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and warnings, uncaught page errors, failed requests and answers ≥ 400, as lines. */
  problems: string[];
}

/** A page of `context` whose console errors, page errors and failed or refused requests are collected. */
export async function watchedPage(context: BrowserContext): Promise<WatchedPage> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // A stream or poll aborted by navigation or the end of the test is not a failure of the page.
    if (request.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return { page, problems };
}

/** Signs in on the dashboard's form with `token`. */
export async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/dashboard`);
  await page.getByLabel(/Access token|Clave de acceso/).fill(token);
  await page.getByRole('button', { name: /Sign in|Entrar/ }).click();
  await page.locator('#main:not([hidden])').waitFor();
}
