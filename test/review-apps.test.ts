// Review apps against the real stack: real git pushes through a real Berth server, real Docker builds and
// containers, a real Caddy answering on each review app's hostname, a registry. With review apps off a branch
// is only stored (and cannot be deleted); on, each other branch gets APP--BRANCH with a copy of the config minus
// --no-review vars, the parent's formation and access; a second push updates it; `git push :branch`, the TTL,
// turning them off and destroying the parent destroy it. Attacks: hostile branch names, a name collision,
// more review apps than allowed, members without access to the parent, pushing to a review app directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitPush } from './support/git-push.ts';
import { runCli } from './support/cli.ts';
import { ScratchRepos } from './support/scratch-repos.ts';
import { launchBrowser, screenshot, signIn } from './support/browser.ts';
import { startBerth, eventually, uniqueName, viaRouter, type BerthServer } from './support/berth.ts';

const MAX_REVIEW_APPS = 4;
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work: string;
let repos: ScratchRepos;
let repo: string;
let carolToken: string; // a member without access to the app
let daveToken: string;  // a member with access to the app
const app = uniqueName('rv');
const feature = `${app}--feature-x`;

const SERVER = (text: string) =>
  `require('node:http').createServer((q, r) => r.end('${text} ' + process.env.BERTH_APP + ' greeting=' + (process.env.GREETING || '') + ' secret=' + (process.env.SECRET_KEY || '') + '\\n')).listen(process.env.PORT);\n`;

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, {
    BERTH_REGISTRY: registry.address, BERTH_STACK_GENERIC: 'berth/node:24',
    BERTH_MAX_REVIEW_APPS: String(MAX_REVIEW_APPS), BERTH_REVIEW_SWEEP_SECONDS: '1',
  });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-reviews-'));
  repos = new ScratchRepos(work, work);
  await berth.ok('POST', '/apps', { name: app });
  carolToken = (await berth.ok('POST', '/users', { name: 'carol', role: 'member' })).token;
  daveToken = (await berth.ok('POST', '/users', { name: 'dave', role: 'member' })).token;
  await berth.ok('POST', `/apps/${app}/access`, { user: 'dave' });
  repo = repos.create({ Procfile: 'web: node server.js\n', 'server.js': SERVER('main') });
  repos.git(repo, 'branch', '-M', 'main');
  repos.git(repo, 'remote', 'add', 'paas', remote(app));
});

after(async () => {
  const left = berth ? ((await berth.api('GET', '/apps')).body as { name: string }[]) : [];
  for (const { name } of left.filter((a) => a.name.startsWith(app))) await berth.api('DELETE', `/apps/${name}`, { confirm: name });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function remote(name: string, token = berth.token): string {
  return `http://berth:${token}@127.0.0.1:${berth.port}/git/${name}.git`;
}

const berthCli = (...args: string[]) => runCli({ url: berth.url, token: berth.token, home: work }, args);

/** Commits on the local branch for `branch` (made from main the first time) and pushes it as `branch`. */
async function pushBranch(branch: string, text = branch): Promise<{ code: number; output: string }> {
  const local = `local-${Buffer.from(branch).toString('hex').slice(0, 60)}`;
  const exists = repos.git(repo, 'branch', '--list', local).trim() !== '';
  repos.git(repo, 'checkout', '-q', ...(exists ? [local] : ['-b', local, 'main']));
  repos.commitChange(repo, 'server.js', () => `${SERVER(text.replace(/[^a-z0-9 -]/gi, '_'))}// push ${++pushes}\n`);
  const pushed = await gitPush(repo, 'paas', `HEAD:refs/heads/${branch}`);
  repos.git(repo, 'checkout', '-q', 'main');
  return pushed;
}

let pushes = 0;
const host = (name: string) => `${name}.localhost`;
const appStatus = async (name: string) => (await berth.api('GET', `/apps/${name}`)).status;
const serverBranches = () => spawnSync('git', ['--git-dir', path.join(berth.dataDir, 'repos', `${app}.git`), 'for-each-ref', '--format=%(refname)'], { encoding: 'utf8' }).stdout;

test('with review apps off, another branch is only stored and cannot be deleted (as before)', async () => {
  const main = await gitPush(repo, 'paas', 'main');
  assert.equal(main.code, 0, main.output);
  const stored = await pushBranch('feature/off');
  assert.equal(stored.code, 0, stored.output);
  assert.match(stored.output, /remote: Stored branch feature\/off; only pushes to main deploy\./);
  assert.equal(await appStatus(`${app}--feature-off`), 404);
  const deletion = await gitPush(repo, 'paas', ':feature/off');
  assert.notEqual(deletion.code, 0);
  assert.match(deletion.output, /Deleting branch feature\/off is refused/);
  assert.match(serverBranches(), /refs\/heads\/feature\/off/);
});

test('apps:reviews on, config:set --no-review and config:no-review; apps:info shows the setting', async () => {
  assert.match((await berthCli('apps:info', app)).out, /Review apps: +off/);
  const on = await berthCli('apps:reviews', app, 'on', '--ttl', '1h');
  assert.equal(on.code, 0, on.err);
  assert.match(on.out, /Review apps are on for .*destroyed 1h after its last push/);
  assert.match((await berthCli('apps:info', app)).out, /Review apps: +on \(destroyed 1h after a branch's last push\)/);
  assert.equal((await berthCli('config:set', app, 'GREETING=hi')).code, 0);
  const secret = await berthCli('config:set', app, 'SECRET_KEY=s3cret', '--no-review');
  assert.equal(secret.code, 0, secret.err);
  assert.equal((await berthCli('config:no-review', app)).out.trim(), 'SECRET_KEY');
  assert.equal((await berthCli('config:no-review', app, 'GREETING')).code, 0);
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/config/no-review`), ['GREETING', 'SECRET_KEY']);
  assert.equal((await berthCli('config:no-review', app, 'GREETING', '--unset')).code, 0);
  assert.match((await berthCli('config:no-review', app, 'NOT_SET')).err, /NOT_SET is not set on/);
  // The mark stays with the var through later config changes (each of which replaces the whole set).
  await berth.ok('PATCH', `/apps/${app}/config`, { OTHER: '1' });
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/config/no-review`), ['SECRET_KEY']);
  assert.match((await viaRouter(caddy.httpPort, host(app))).body, /^main .* greeting=hi secret=s3cret/);
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 2 }] });
});

test('pushing feature/x makes APP--feature-x: config minus --no-review vars, the parent\'s formation, its URL printed', async () => {
  const pushed = await pushBranch('feature/x', 'review one');
  assert.equal(pushed.code, 0, pushed.output);
  assert.match(pushed.output, new RegExp(`remote: -----> Creating review app ${feature} for branch feature/x`));
  assert.match(pushed.output, /config copied from .* without SECRET_KEY \(--no-review\)/);
  assert.match(pushed.output, new RegExp(`remote: -----> Review app ${feature}: http://${feature}\\.localhost:${caddy.httpPort}/`));
  assert.match((await viaRouter(caddy.httpPort, host(feature))).body, new RegExp(`^review one ${feature} greeting=hi secret=\\n`));
  assert.match((await viaRouter(caddy.httpPort, host(app))).body, /^main /, 'the parent keeps its own release');
  const review = await berth.ok('GET', `/apps/${feature}`);
  assert.deepEqual({ app: review.reviewOf.app, branch: review.reviewOf.branch }, { app, branch: 'feature/x' });
  assert.equal(review.scheduler, 'docker');
  assert.equal(review.instances, 2);
  assert.deepEqual((await berth.ok('GET', `/apps/${feature}/formation`)).map((f: any) => [f.type, f.quantity]), [['web', 2]]);
  const config = await berth.ok('GET', `/apps/${feature}/config`);
  assert.equal(config.GREETING, 'hi');
  assert.ok(!('SECRET_KEY' in config), 'the --no-review var is not copied');

  const listed = await berthCli('apps');
  const lines = listed.out.split('\n');
  assert.match(lines[0], /REVIEW OF$/);
  const parentLine = lines.findIndex((l) => l.startsWith(`${app} `));
  assert.match(lines[parentLine + 1], new RegExp(`^  ${feature} .*${app} \\(feature/x\\)$`), listed.out);
  assert.match((await berthCli('apps:info', feature)).out, new RegExp(`Review of: +${app}, branch feature/x \\(destroyed 20\\d\\d-`));
  const shown = await berthCli('apps:reviews', app);
  assert.match(shown.out, new RegExp(`${feature} +feature/x +http://${feature}\\.localhost:${caddy.httpPort}/`));
});

test('a second push to the branch updates its review app', async () => {
  const pushed = await pushBranch('feature/x', 'review two');
  assert.equal(pushed.code, 0, pushed.output);
  assert.doesNotMatch(pushed.output, /Creating review app/);
  assert.match(pushed.output, new RegExp(`Deploying branch feature/x to review app ${feature}`));
  assert.match((await viaRouter(caddy.httpPort, host(feature))).body, /^review two /);
  assert.deepEqual((await berth.ok('GET', `/apps/${feature}/releases`)).map((r: any) => r.version), [2, 1]);
});

test('the console lists the review app under its parent', async () => {
  const { context, page } = await launchBrowser(work);
  try {
    await signIn(page, berth.url, berth.token);
    const rows = page.locator('table.apps tbody tr');
    await page.locator(`tr[data-app="${feature}"]`).waitFor();
    const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-app')));
    assert.equal(names[names.indexOf(app) + 1], feature);
    assert.equal(await page.locator(`tr[data-app="${feature}"] .review-of`).innerText(), `review of ${app}, branch feature/x`);
    await screenshot(page, 'review-apps-list');
  } finally {
    await context.close();
  }
});

test('a member without access to the parent cannot reach the review app; one with access can; access follows the parent', async () => {
  const asCarol = (route: string) => berth.api('GET', route, undefined, carolToken);
  assert.equal((await asCarol(`/apps/${feature}`)).status, 404);
  assert.equal((await asCarol(`/apps/${feature}/config`)).status, 404);
  assert.ok(!(await asCarol('/apps')).body.some((a: any) => a.name === feature));
  const carolPush = await gitPush(repo, remote(app, carolToken), 'HEAD:refs/heads/carol/x');
  assert.notEqual(carolPush.code, 0);
  assert.match(carolPush.output, /do not have access/);
  assert.equal(await appStatus(`${app}--carol-x`), 404);

  assert.equal((await berth.api('GET', `/apps/${feature}`, undefined, daveToken)).status, 200);
  const refused = await berth.api('POST', `/apps/${feature}/access`, { user: 'carol' });
  assert.equal(refused.status, 422);
  assert.match(refused.body.message, /its access is .*'s/);
  assert.deepEqual(await berth.ok('GET', `/apps/${feature}/access`), await berth.ok('GET', `/apps/${app}/access`));
  await berth.ok('DELETE', `/apps/${app}/access/dave`);
  assert.equal((await berth.api('GET', `/apps/${feature}`, undefined, daveToken)).status, 404, 'losing the parent loses its review apps');
  await berth.ok('POST', `/apps/${app}/access`, { user: 'dave' });

  const direct = await gitPush(repo, remote(feature), 'main');
  assert.notEqual(direct.code, 0);
  assert.match(direct.output, /is a review app: push branch feature\/x to its parent's git remote instead/);
  assert.match((await viaRouter(caddy.httpPort, host(feature))).body, /^review two /);
});

test('hostile branch names become plain app names, answer on their own hostnames, and touch nothing else', async () => {
  const hostile = ['$(touch${IFS}pwned)', '{http.request.host}', 'ÜNÏCÖDÉ/日本'];
  for (const branch of hostile) {
    const pushed = await pushBranch(branch, 'hostile');
    assert.equal(pushed.code, 0, pushed.output);
  }
  const apps = (await berth.ok('GET', `/apps/${app}/reviews`)).apps as { name: string; branch: string }[];
  assert.deepEqual(apps.map((a) => a.branch).sort(), [...hostile, 'feature/x'].sort());
  for (const { name, branch } of apps.filter((a) => a.branch !== 'feature/x')) {
    assert.match(name, new RegExp(`^${app}--[a-z0-9]+(-[a-z0-9]+)*$`), `${branch} → ${name}`);
    assert.ok(name.length <= 30);
    assert.match((await viaRouter(caddy.httpPort, host(name))).body, new RegExp(`^hostile ${name} `));
  }
  assert.ok(apps.some((a) => a.name === `${app}--http-request-host`));
  for (const dir of [berth.dataDir, work, process.cwd()]) assert.ok(!fs.existsSync(path.join(dir, 'pwned')), `no pwned file in ${dir}`);
  assert.match((await viaRouter(caddy.httpPort, host(app))).body, /^main /, 'no placeholder reached another app\'s route');

  // Two branches with the same name once made plain: the second is refused, naming the first.
  const clash = await pushBranch('FEATURE/X');
  assert.notEqual(clash.code, 0);
  assert.match(clash.output, new RegExp(`Branch FEATURE/X would be the review app ${feature}, which is already branch feature/x's: rename one of the branches`));
  assert.doesNotMatch(serverBranches(), /FEATURE\/X/);
  // A name git would refuse (the hook sees refs before git checks them) is refused by Berth too.
  const dashed = await pushBranch('-rf');
  assert.notEqual(dashed.code, 0);
  assert.match(dashed.output, /"-rf" is not a branch name review apps accept/);
  assert.equal(await appStatus(`${app}--rf`), 404);
});

test(`a push past BERTH_MAX_REVIEW_APPS (${MAX_REVIEW_APPS}) is refused clearly; deleting a branch makes room`, async () => {
  const over = await pushBranch('one-too-many');
  assert.notEqual(over.code, 0);
  assert.match(over.output, new RegExp(`Push rejected: ${app} already has ${MAX_REVIEW_APPS} review apps, the most allowed \\(BERTH_MAX_REVIEW_APPS=${MAX_REVIEW_APPS}\\): delete a branch`));
  assert.equal(await appStatus(`${app}--one-too-many`), 404);

  const deleted = await gitPush(repo, 'paas', ':{http.request.host}');
  assert.equal(deleted.code, 0, deleted.output);
  assert.match(deleted.output, new RegExp(`Destroyed review app ${app}--http-request-host with branch \\{http.request.host\\}`));
  const fits = await pushBranch('one-too-many');
  assert.equal(fits.code, 0, fits.output);
});

test('git push :feature/x destroys its review app; the deploy branch still cannot be deleted', async () => {
  const deleted = await gitPush(repo, 'paas', ':feature/x');
  assert.equal(deleted.code, 0, deleted.output);
  assert.match(deleted.output, new RegExp(`remote: -----> Destroyed review app ${feature} with branch feature/x`));
  assert.equal(await appStatus(feature), 404);
  await eventually('the review hostname to stop answering', async () => (await viaRouter(caddy.httpPort, host(feature))).status === 404);
  assert.doesNotMatch(serverBranches(), /refs\/heads\/feature\/x\n/);
  const tags = await fetch(`http://${registry.address}/v2/${feature}/tags/list`);
  assert.deepEqual(tags.ok ? ((await tags.json()) as { tags: string[] | null }).tags ?? [] : [], [], 'its images went too');

  const main = await gitPush(repo, 'paas', ':main');
  assert.notEqual(main.code, 0);
  assert.match(main.output, /Deleting branch main is refused/);
  assert.match((await viaRouter(caddy.httpPort, host(app))).body, /^main /);
});

test('the TTL since the last push destroys review apps (the periodic sweep)', async () => {
  const before = (await berth.ok('GET', `/apps/${app}/reviews`)).apps as { name: string }[];
  assert.ok(before.length >= 1);
  await berth.ok('PATCH', `/apps/${app}/reviews`, { enabled: true, ttl: '3s' });
  const pushed = await pushBranch('short/lived');
  assert.equal(pushed.code, 0, pushed.output);
  await eventually('every review app to expire', async () =>
    ((await berth.ok('GET', `/apps/${app}/reviews`)).apps as unknown[]).length === 0, 60_000);
  for (const { name } of [...before, { name: `${app}--short-lived` }]) assert.equal(await appStatus(name), 404, name);
  assert.equal((await viaRouter(caddy.httpPort, host(`${app}--short-lived`))).status, 404);
  await eventually('the sweep to say why', async () => /review app .*--short-lived \(branch short\/lived\) destroyed: its time to live ran out/.test(berth.output));
});

test('apps:reviews off destroys the review apps; destroying the parent destroys them too', async () => {
  await berth.ok('PATCH', `/apps/${app}/reviews`, { enabled: true, ttl: '1h' });
  assert.equal((await pushBranch('off/a')).code, 0);
  const off = await berthCli('apps:reviews', app, 'off');
  assert.equal(off.code, 0, off.err);
  assert.match(off.out, new RegExp(`Destroyed ${app}--off-a\\.`));
  assert.equal(await appStatus(`${app}--off-a`), 404);

  assert.equal((await berthCli('apps:reviews', app, 'on')).code, 0);
  assert.equal((await pushBranch('cascade/a')).code, 0);
  const child = `${app}--cascade-a`;
  assert.match((await viaRouter(caddy.httpPort, host(child))).body, /^cascade_a /);
  const destroyed = await berthCli('apps:destroy', app, '--confirm', app);
  assert.equal(destroyed.code, 0, destroyed.err);
  await eventually('the review app to go with its parent', async () => (await appStatus(child)) === 404);
  assert.equal((await viaRouter(caddy.httpPort, host(child))).status, 404);
});

test('a review app\'s name held by an unrelated app is refused, never taken over; review apps cannot be renamed', async () => {
  const parent = uniqueName('rw');
  const renamed = uniqueName('rn');
  await berth.ok('POST', '/apps', { name: parent });
  await berth.ok('PATCH', `/apps/${parent}/reviews`, { enabled: true });
  repos.git(repo, 'remote', 'add', 'second', remote(parent));
  assert.equal((await gitPush(repo, 'second', 'main')).code, 0); // the deploy branch builds as usual
  const first = await gitPush(repo, 'second', 'main:refs/heads/feature/y');
  assert.equal(first.code, 0, first.output);
  const review = `${parent}--feature-y`;
  const refusedRename = await berth.api('PATCH', `/apps/${review}`, { name: uniqueName('x') });
  assert.equal(refusedRename.status, 422);
  assert.match(refusedRename.body.message, /is the review app of/);

  // The parent moves to another name; its review app keeps its name. A new app takes the parent's old name.
  await berth.ok('PATCH', `/apps/${parent}`, { name: renamed });
  await berth.ok('POST', '/apps', { name: parent });
  await berth.ok('PATCH', `/apps/${parent}/reviews`, { enabled: true });
  const clash = await gitPush(repo, 'second', 'main:refs/heads/feature/y');
  assert.notEqual(clash.code, 0);
  assert.match(clash.output, new RegExp(`Branch feature/y would be the review app ${review}, but an app of that name already exists and is not a review app of ${parent}`));
  const still = await berth.ok('GET', `/apps/${review}`);
  assert.equal(still.reviewOf.app, renamed, 'the review app still belongs to the renamed parent');
  for (const name of [parent, renamed]) await berth.ok('DELETE', `/apps/${name}`, { confirm: name });
  assert.equal(await appStatus(review), 404, 'destroyed with its (renamed) parent');
});
