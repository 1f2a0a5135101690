// The hosts page's actions in a real chromium: "Add a host" streams the installer's task lines into the page
// (check only of a k3s server, against a fresh Debian test host: nothing gets installed), a bad address is refused
// with the server's message, a Docker host of an older Berth shows as retired and Remove (which asks first) cleans
// it up; members are told the page is for admins. Drain and undrain of nodes: test/hosts-k8s.test.ts (API, CLI).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startCaddy } from './support/caddy.ts';
import { startBerth, eventually, type BerthServer } from './support/berth.ts';
import { launchBrowser, screenshot, signIn } from './support/browser.ts';
import { startTestHosts, makeOperatorKey, FRESH_IMAGE, type TestHost, type TestNetwork } from './support/test-hosts.ts';
import { registerRetiredDockerHost } from './support/retired-hosts.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let berth: BerthServer;
let network: TestNetwork;
let key: ReturnType<typeof makeOperatorKey>;
let fresh: TestHost;
let old: TestHost;
let context: BrowserContext;
let page: Page;
let memberToken = '';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-web-hosts-'));

before(async () => {
  ({ network, key, hosts: [fresh, old] } = await startTestHosts('berth-webh', [FRESH_IMAGE, FRESH_IMAGE]));
  caddy = await startCaddy();
  // Only written into the nodes' registries.yaml, which --check never writes: nothing is pulled in this test.
  berth = await startBerth(caddy, { BERTH_REGISTRY_ADVERTISE: '10.9.8.7:5000' });
  memberToken = (await berth.ok('POST', '/users', { name: 'carol', role: 'member' })).token;
  ({ context, page } = await launchBrowser(work));
});

after(async () => {
  await context?.close();
  await berth?.kill('SIGTERM');
  await caddy?.stop();
  await network?.remove();
  key?.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Fills the add-host form the way a person would (the private key pasted into the textarea). */
async function fillAddForm(address: string, name: string, checkOnly: boolean): Promise<void> {
  await page.getByLabel('Address').fill(address);
  await page.getByLabel('Name (optional)').fill(name);
  await page.getByLabel('Role').selectOption('k3s-server');
  await page.getByLabel('SSH private key (optional)').fill(key.privateKey);
  await page.getByLabel(/Check only/).setChecked(checkOnly);
}

test('check only on a fresh host: the would-change lines stream into the page, nothing is installed', { timeout: 120_000 }, async () => {
  await signIn(page, berth.url, berth.token);
  await page.goto(`${berth.url}/#/hosts`);
  await page.locator('tr[data-host="local"]').waitFor({ timeout: 15_000 });
  await fillAddForm(`root@${fresh.address}`, 'fresh-1', true);
  // When each task line and the summary reached the page: streamed lines arrive before the summary, not with it.
  await page.evaluate(() => {
    const seen: { lines: number[]; summary: number } = { lines: [], summary: 0 };
    (window as unknown as { seen: typeof seen }).seen = seen;
    new MutationObserver(() => {
      const count = document.querySelectorAll('#host-tasks li').length;
      while (seen.lines.length < count) seen.lines.push(performance.now());
      if (!seen.summary && /Check done/.test(document.querySelector('.add-host .notice')?.textContent ?? '')) seen.summary = performance.now();
    }).observe(document.querySelector('.add-host')!, { childList: true, subtree: true, characterData: true });
  });
  await page.getByRole('button', { name: 'Check host' }).click();
  await page.getByText(/^Check done, nothing was changed/).waitFor({ timeout: 90_000 });
  const lines = await page.locator('#host-tasks li').evaluateAll((items) => items.map((li) => ({
    status: (li as HTMLElement).dataset.status, text: li.textContent ?? '',
  })));
  assert.ok(lines.filter((l) => l.status === 'would-change').length >= 3, JSON.stringify(lines));
  assert.ok(lines.every((l) => l.status === 'would-change' || l.status === 'ok'), JSON.stringify(lines));
  assert.ok(lines.some((l) => /curl installed/.test(l.text) && l.status === 'would-change'), JSON.stringify(lines));
  const seen = await page.evaluate(() => (window as unknown as { seen: { lines: number[]; summary: number } }).seen);
  assert.ok(seen.summary - seen.lines[0] > 100, `the first task line came ${(seen.summary - seen.lines[0]).toFixed(0)} ms before the summary`);
  console.log(`# web hosts:add --check: ${lines.length} task lines, the first ${((seen.summary - seen.lines[0]) / 1000).toFixed(1)} s before the summary`);
  await screenshot(page, 'hosts-add-check');

  assert.equal(await fresh.sh('test -e /usr/local/bin/k3s || test -e /etc/rancher && echo present || echo absent'), 'absent');
  assert.equal(await fresh.sh('command -v curl || echo absent'), 'absent');
  assert.equal((await berth.ok('GET', '/hosts')).find((x: { name: string }) => x.name === 'fresh-1'), undefined);
});

test('a bad address is refused with the server\'s message, before anything runs', async () => {
  await page.getByLabel('Address').fill('root@not a host!');
  await page.getByLabel('Address').evaluate((el) => el.removeAttribute('pattern')); // past the browser's own check
  await page.getByRole('button', { name: 'Check host' }).click();
  await page.locator('.add-host .notice.error').waitFor();
  assert.match(await page.locator('.add-host .notice.error').innerText(), /user@host|address/i);
  assert.equal(await page.locator('#host-tasks li').count(), 0);
});

test('the role list offers the k3s roles and the plain kubelet node; without a k3s server, Automatic says the first host needs the server role', async () => {
  const roles = await page.getByLabel('Role').locator('option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  assert.deepEqual(roles, ['', 'k3s-server', 'k3s-agent', 'kubelet']);
  await page.getByLabel('Address').fill(`root@${fresh.address}`);
  await page.getByLabel('Role').selectOption('');
  await page.getByRole('button', { name: 'Check host' }).click();
  await page.locator('.add-host .notice.error', { hasText: /first host needs --role k3s-server/ }).waitFor();
  assert.equal(await page.locator('#host-tasks li').count(), 0);
});

test('the pod range shows for a kubelet node only and goes with its request; the server\'s refusal is shown', async () => {
  const podRange = page.getByLabel('Pod range (optional)');
  assert.equal(await podRange.isVisible(), false, 'no pod range for the automatic role');
  await page.getByLabel('Role').selectOption('kubelet');
  await podRange.waitFor({ state: 'visible' });
  await podRange.fill('10.42.7.0/24');
  await screenshot(page, 'hosts-add-kubelet');
  const sent = page.waitForRequest((req) => req.url().endsWith('/api/v1/hosts') && req.method() === 'POST');
  await page.getByRole('button', { name: 'Check host' }).click();
  assert.equal(JSON.parse((await sent).postData() ?? '{}').podCidr, '10.42.7.0/24');
  // This server has no kubelet settings: the form shows which are missing, and nothing ran.
  await page.locator('.add-host .notice.error', { hasText: /BERTH_KUBELET_BINARY/ }).waitFor();
  assert.equal(await page.locator('#host-tasks li').count(), 0);
  await page.getByLabel('Role').selectOption('k3s-agent');
  await podRange.waitFor({ state: 'hidden' });
  const agent = page.waitForRequest((req) => req.url().endsWith('/api/v1/hosts') && req.method() === 'POST');
  await page.getByRole('button', { name: 'Check host' }).click();
  assert.equal(JSON.parse((await agent).postData() ?? '{}').podCidr, undefined, 'a hidden pod range is not sent');
  await page.locator('.add-host .notice.error').waitFor();
  await page.getByLabel('Role').selectOption('');
});

test('a Docker host of an older Berth shows as retired, with only Remove, which asks first and cleans it up', { timeout: 120_000 }, async () => {
  await registerRetiredDockerHost(berth, old, 'old-1'); // the server restarts: the page reloads
  await page.reload();
  const row = page.locator('tr[data-host="old-1"]');
  await row.locator('[data-status="retired"]').waitFor({ timeout: 15_000 });
  await row.getByText(/no longer used: Remove finishes the move/).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Drain old-1' }).count(), 0, 'nothing to drain on a retired host');

  // Remove asks first: Escape cancels (focus starts on Cancel), the confirm button removes.
  await page.getByRole('button', { name: 'Remove old-1' }).click();
  const dialog = page.getByRole('dialog', { name: 'Remove old-1?' });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Docker host of an older Berth: the containers Berth left there are removed over SSH/);
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
  await screenshot(page, 'hosts-remove-retired-confirm');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.ok((await berth.ok('GET', '/hosts')).some((x: { name: string }) => x.name === 'old-1'), 'cancel removed nothing');
  await page.getByRole('button', { name: 'Remove old-1' }).click();
  await dialog.getByRole('button', { name: 'Remove old-1' }).click();
  const done = page.locator('#host-activity li[data-state="done"]', { hasText: 'old-1 removed.' });
  await done.waitFor({ timeout: 30_000 });
  // The cleanup's own line: this test host has no Docker, which the host's shell said (and the record went anyway).
  await done.locator('pre.detail', { hasText: /failed +containers Berth started here removed[\s\S]*exit code: 127/ }).waitFor({ timeout: 5_000 });
  await row.waitFor({ state: 'detached', timeout: 10_000 });
  assert.equal((await berth.ok('GET', '/hosts')).find((x: { name: string }) => x.name === 'old-1'), undefined);
  await screenshot(page, 'hosts-actions');
});

test('a member sees that only admins see the hosts page, and no form', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, berth.url, memberToken);
  await page.goto(`${berth.url}/#/hosts`);
  await page.getByText(/Only admins see the hosts page/).waitFor();
  assert.equal(await page.locator('form.add-host').count(), 0);
  assert.equal(await page.locator('table.hosts').count(), 0);
  assert.equal((await berth.api('GET', '/hosts', undefined, memberToken)).status, 403, 'and the API refuses too');
});
