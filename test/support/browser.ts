// Debian's chromium driven by playwright-core for the web console tests (a browser download cannot work
// here): a fresh profile per run, sign-in through the page, and screenshots at both widths the console supports.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

export async function launchBrowser(workDir: string): Promise<{ context: BrowserContext; page: Page }> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // launchPersistentContext is playwright's way to give chromium its user-data-dir.
  const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(workDir, 'chromium-')), {
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? await context.newPage();
  return { context, page };
}

/** Signs in through the sign-in form with an API token and waits for the apps list. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Apps' }).waitFor();
}

/** Full-page screenshots at 1280 and 390 px into test-artifacts/NAME-WIDTH.png, back at 1280 after. */
export async function screenshot(page: Page, name: string): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}
