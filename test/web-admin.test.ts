// The console's Admin page in a real chromium: the integrity report (database, missing images, an orphan
// container this test makes, disk use per app) and the backup download through the signed-in session;
// members get no Admin link and are told the page is for admins.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { TEST_IMAGE, startBerth, uniqueName, type BerthServer } from './support/berth.ts';
import { launchBrowser, screenshot, signIn } from './support/browser.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let context: BrowserContext;
let page: Page;
let memberToken = '';
let orphan = '';
const app = uniqueName('adminpg');
const ghost = uniqueName('ghost');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-admin-'));

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address });
  await berth.ok('POST', '/apps', { name: app });
  memberToken = (await berth.ok('POST', '/users', { name: 'dana', role: 'member' })).token;
  const owner = fs.readFileSync(path.join(berth.dataDir, 'installation-id'), 'utf8').trim();
  orphan = execFileSync('docker', ['create', '--label', 'berth.managed=1', '--label', `berth.owner=${owner}`, '--label', `berth.app=${ghost}`, TEST_IMAGE], { encoding: 'utf8' }).trim();
  ({ context, page } = await launchBrowser(work));
});

after(async () => {
  if (orphan) execFileSync('docker', ['rm', '-f', orphan]);
  await context?.close();
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('an admin sees the integrity report with the orphan container and each app\'s disk use', { timeout: 60_000 }, async () => {
  await signIn(page, berth.url, berth.token);
  await page.getByRole('link', { name: 'Admin', exact: true }).click();
  await page.getByRole('heading', { name: 'Integrity check' }).waitFor();
  await page.locator('ul.orphans li').first().waitFor({ timeout: 15_000 });
  assert.match(await page.locator('ul.orphans').innerText(), new RegExp(`app ${ghost}, created`));
  assert.match(await page.locator('main').innerText(), /SQLite integrity check: ok/);
  assert.match(await page.locator('main').innerText(), /Every live release's image is present/);
  assert.equal(await page.locator(`table.disk-use th[scope="row"]`).innerText(), app);
  await screenshot(page, 'admin');
});

test('the backup downloads through the signed-in session as a tar closed by its manifest', { timeout: 60_000 }, async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download a backup' }).click()]);
  const file = path.join(work, 'console-backup.tar');
  await download.saveAs(file);
  const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(names.at(-1), 'manifest.json');
  assert.ok(names.includes('db/berth.db') && !names.includes('key/secrets.key'), names.join(','));
});

test('a member gets no Admin link, and the page says it is for admins', { timeout: 60_000 }, async () => {
  const member = await launchBrowser(work);
  try {
    await signIn(member.page, berth.url, memberToken);
    assert.equal(await member.page.getByRole('link', { name: 'Admin', exact: true }).count(), 0);
    await member.page.goto(`${berth.url}/#/admin`);
    await member.page.getByText('Only admins see the admin page.').waitFor();
  } finally {
    await member.context.close();
  }
});
