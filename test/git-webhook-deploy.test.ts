// apps:connect end to end: a repository on a test git host (HTTPS, token required, on loopback), hand-signed
// push webhooks as GitHub, GitLab and Gitea send them, and the real pipeline behind them: the branch is
// fetched, built, pushed to the registry and released behind Caddy, with the build log in `berth builds`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { startGitHttpsServer, type GitHttpsServer } from './support/git-https-server.ts';
import { startBerth, viaRouter, eventually, uniqueName, type BerthServer } from './support/berth.ts';
import { gitPush } from './support/git-push.ts';
import { runCliSync } from './support/cli.ts';

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/push/static-site');
const TOKEN = `glpat-${crypto.randomBytes(8).toString('hex')}`;
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let host: GitHttpsServer;
let berth: BerthServer;
let work: string;
let repo: string;
let secret = '';
let app = uniqueName('hook');

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  host = await startGitHttpsServer({ token: TOKEN });
  berth = await startBerth(caddy, {
    BERTH_REGISTRY: registry.address,
    // The test's git host is on loopback: allowed as that one endpoint, as an operator would for an internal host.
    BERTH_WEBHOOK_ALLOW: `127.0.0.1:${host.port}`,
    BERTH_BUILD_CA_FILE: host.caFile,
  });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-hook-'));
  repo = path.join(work, 'site');
  fs.cpSync(FIXTURE, repo, { recursive: true });
  git('init', '-q', '-b', 'main');
  commitVersion('one');
  host.publish('site', repo);
  await berth.ok('POST', '/apps', { name: app });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await host?.close();
  await registry?.stop();
  await caddy?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: gitEnv() }).trim();
}

function commitVersion(version: string): string {
  fs.writeFileSync(path.join(repo, 'index.html'), `<!doctype html><title>static</title><h1>site version ${version}</h1>\n`);
  git('add', '-A');
  git('commit', '-qm', `version ${version}`);
  return git('rev-parse', 'HEAD');
}

const cli = (args: string[], input = '') => runCliSync({ url: berth.url, token: berth.token, home: work }, args, { input, timeoutMs: 60_000 });

type Sender = 'github' | 'gitlab' | 'gitea';

/** A webhook as each host signs it: GitHub's HMAC header, Gitea's, or GitLab's plain token. */
function signedHeaders(sender: Sender, body: string, event: string, key = secret): Record<string, string> {
  const hmac = crypto.createHmac('sha256', key).update(body).digest('hex');
  if (sender === 'github') return { 'x-github-event': event, 'x-hub-signature-256': `sha256=${hmac}` };
  if (sender === 'gitea') return { 'x-gitea-event': event, 'x-github-event': event, 'x-gitea-signature': hmac };
  return { 'x-gitlab-event': event, 'x-gitlab-token': key };
}

async function deliver(name: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(`${berth.url}/hooks/git/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.json() };
}

const pushPayload = (sha: string, branch = 'main') => JSON.stringify({ ref: `refs/heads/${branch}`, before: '0'.repeat(40), after: sha, repository: { full_name: 'acme/site' } });

async function push(sender: Sender, sha: string, branch = 'main') {
  const body = pushPayload(sha, branch);
  return deliver(app, body, signedHeaders(sender, body, sender === 'gitlab' ? 'Push Hook' : 'push'));
}

async function finishedBuild(id: number): Promise<any> {
  return eventually(`build ${id} to finish`, async () => {
    const builds = await berth.ok<any[]>('GET', `/apps/${app}/builds`);
    const build = builds.find((b) => b.id === id);
    return build && build.status !== 'building' ? build : undefined;
  }, 240_000);
}

async function buildLog(id: number): Promise<string> {
  const res = await fetch(`${berth.url}/api/v1/apps/${app}/builds/${id}/log`, { headers: { authorization: `Bearer ${berth.token}` } });
  return (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l).line ?? '').join('\n');
}

/** Follows a running build's log until a line matches (the log endpoint streams until the build ends). */
async function logShows(id: number, line: RegExp): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 60_000);
  try {
    const res = await fetch(`${berth.url}/api/v1/apps/${app}/builds/${id}/log`, { headers: { authorization: `Bearer ${berth.token}` }, signal: abort.signal });
    let text = '';
    for await (const chunk of res.body!) {
      text += Buffer.from(chunk).toString('utf8');
      if (line.test(text)) return;
    }
    assert.fail(`build ${id}'s log ended without ${line}:\n${text}`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

const served = () => viaRouter(caddy.httpPort, `${app}.localhost`).then((r) => r.body);

test('hostile repository URLs are refused at connect time and nothing is stored', async () => {
  const refused: [string, number][] = [
    ['file:///etc', 400], ['ext::sh -c id', 400], ['/srv/repo.git', 400], ['-uhttps://x.example/a.git', 400],
    [`https://x-access-token:${TOKEN}@127.0.0.1:${host.port}/site.git`, 400], ['http://127.0.0.1/site.git', 400],
    ['https://127.0.0.1:1/site.git', 422], [`https://127.0.0.2:${host.port}/site.git`, 422], ['https://169.254.169.254/latest.git', 422],
    [`https://127.0.0.1:${berth.port}/git/${app}.git`, 422], ['ssh://git@127.0.0.1/site.git', 422], ['git@10.0.0.1:site.git', 422],
  ];
  for (const [url, status] of refused) {
    const res = await berth.api('POST', `/apps/${app}/connection`, { repo: url });
    assert.equal(res.status, status, `${url}: ${JSON.stringify(res.body)}`);
    assert.equal(typeof res.body.error, 'string');
    assert.doesNotMatch(res.body.message, new RegExp(TOKEN));
  }
  assert.equal((await berth.api('GET', `/apps/${app}/connection`)).status, 404);
});

test('apps:connect takes the token from stdin, prints the webhook URL and a generated secret once; apps:info shows the connection', async () => {
  const res = cli(['apps:connect', app, '--repo', host.url('site'), '--token-from-stdin'], `${TOKEN}\n`);
  assert.equal(res.code, 0, res.err + res.out);
  assert.match(res.out, new RegExp(`Webhook URL: +${berth.url}/hooks/git/${app}`));
  assert.match(res.out, /Access token: +stored \(encrypted\)/);
  secret = /Webhook secret: +([0-9a-f]{64})/.exec(res.out)?.[1] ?? '';
  assert.ok(secret, res.out);
  assert.doesNotMatch(res.out, new RegExp(TOKEN));

  const info = cli(['apps:info', app]);
  assert.equal(info.code, 0, info.err);
  assert.match(info.out, new RegExp(`Repository: +${host.url('site').replaceAll('.', '\\.')} \\(main\\)`));
  assert.doesNotMatch(info.out, new RegExp(`${TOKEN}|${secret}`));

  // At rest the token and the secret are sealed like config values.
  const db = new Database(path.join(berth.dataDir, 'berth.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT token, webhook_secret FROM app_git_connections').get() as { token: string; webhook_secret: string };
    assert.match(row.token, /^enc1:/);
    assert.match(row.webhook_secret, /^enc1:/);
    const file = fs.readFileSync(path.join(berth.dataDir, 'berth.db'));
    assert.equal(file.includes(TOKEN) || file.includes(secret), false);
  } finally {
    db.close();
  }
});

test('unsigned, wrongly signed and unknown-app webhooks are refused 401, audited, and build nothing', async () => {
  const body = pushPayload(git('rev-parse', 'HEAD'));
  const attempts: [string, Record<string, string>][] = [
    [app, { 'x-github-event': 'push' }],
    [app, signedHeaders('github', body, 'push', 'not the secret')],
    [app, signedHeaders('gitea', body, 'push', 'not the secret')],
    [app, signedHeaders('gitlab', body, 'Push Hook', 'not the secret')],
    [app, { ...signedHeaders('github', body, 'push'), 'x-hub-signature-256': 'sha256=00' }],
    ['no-such-app', signedHeaders('github', body, 'push')],
  ];
  for (const [name, headers] of attempts) {
    const res = await deliver(name, body, headers);
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.body.error, 'invalid_signature');
    assert.equal(typeof res.body.message, 'string');
  }
  // A body signed for one payload does not carry another.
  const other = await deliver(app, pushPayload('f'.repeat(40)), signedHeaders('github', body, 'push'));
  assert.equal(other.status, 401);
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/builds`), []);
  const audit = await berth.ok<any[]>('GET', '/audit?limit=50');
  const refusals = audit.filter((e) => e.action === 'auth failed' && /via POST \/hooks\/git\//.test(e.detail));
  assert.ok(refusals.some((e) => /^unsigned webhook via POST \/hooks\/git\//.test(e.detail)), JSON.stringify(refusals));
  assert.ok(refusals.some((e) => /^invalid webhook signature via POST \/hooks\/git\//.test(e.detail)));
  assert.ok(refusals.every((e) => e.status === 401));
});

test('a ping answers 200 and a push to another branch is ignored: nothing is built', async () => {
  const ping = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
  const pong = await deliver(app, ping, signedHeaders('github', ping, 'ping'));
  assert.equal(pong.status, 200);
  assert.deepEqual(pong.body, { build: null, message: `Connected: pushes to main deploy ${app}.` });
  const other = await push('github', git('rev-parse', 'HEAD'), 'feature/x');
  assert.equal(other.status, 202);
  assert.equal(other.body.build, null);
  assert.match(other.body.message, /Ignored a push to feature\/x/);
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/builds`), []);
});

test('a signed GitHub push builds and releases the pushed commit like git push; the app serves it through Caddy', async () => {
  const sha = git('rev-parse', 'HEAD');
  const started = Date.now();
  const res = await push('github', sha);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.ok(Date.now() - started < 5000, 'the webhook answers before the build');
  assert.equal(typeof res.body.build, 'number');
  const build = await finishedBuild(res.body.build);
  assert.equal(build.status, 'succeeded', build.error);
  assert.equal(build.commitSha, sha);
  assert.equal(build.pushedBy, 'github webhook');
  assert.equal(build.releaseVersion, 1);
  assert.match(await served(), /site version one/);
  const log = await buildLog(build.id);
  assert.match(log, new RegExp(`Fetching main from ${host.url('site').replaceAll('.', '\\.')}`));
  assert.match(log, /v1 deployed to/);
  assert.ok(host.requests.some((r) => r.password === TOKEN), 'the token was sent to the git host');
  const builds = cli(['builds', app]);
  assert.match(builds.out, new RegExp(sha.slice(0, 7)));
  const audit = await berth.ok<any[]>(`GET`, `/audit?app=${app}&limit=20`);
  assert.ok(audit.some((e) => e.action === 'git push' && e.actor === 'github webhook' && e.status === 200));
  assert.ok(audit.some((e) => e.action === 'POST /hooks/git/:app' && e.status === 202));
});

test('new commits through GitLab and Gitea webhooks deploy the new versions', async () => {
  for (const [sender, version] of [['gitlab', 'two'], ['gitea', 'three']] as const) {
    const sha = commitVersion(version);
    host.publish('site', repo);
    const res = await push(sender, sha);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const build = await finishedBuild(res.body.build);
    assert.equal(build.status, 'succeeded', build.error);
    assert.equal(build.pushedBy, `${sender} webhook`);
    assert.match(await served(), new RegExp(`site version ${version}`));
  }
});

test('a commit that is not on the connected branch is not deployed; the release stays', async () => {
  const res = await push('github', 'e'.repeat(40));
  assert.equal(res.status, 202);
  const build = await finishedBuild(res.body.build);
  assert.equal(build.status, 'failed');
  assert.match(build.error, /is not on main any more/);
  assert.match(await served(), /site version three/);
});

test('a webhook deploy and a git push of the same app take turns: the push waits, then finds the branch moved', async () => {
  const base = git('rev-parse', 'HEAD');
  // The webhook's commit builds slowly (a Dockerfile app), so the push arrives while it holds the app.
  fs.writeFileSync(path.join(repo, 'Dockerfile'), `FROM berth/node:24\nRUN sleep 6 # ${Math.random()}\n` +
    `CMD ["node", "-e", "require('http').createServer((q, r) => r.end('site version five')).listen(process.env.PORT)"]\n`);
  const five = commitVersion('five');
  host.publish('site', repo);
  const delivered = await push('github', five);
  assert.equal(delivered.status, 202, JSON.stringify(delivered.body));
  await logShows(delivered.body.build, /-----> Building/);

  const remote = `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`;
  git('checkout', '-q', '-b', 'local', base);
  fs.rmSync(path.join(repo, 'Dockerfile'), { force: true });
  const four = commitVersion('four');
  const pushed = await gitPush(repo, remote, 'local:main');
  git('checkout', '-q', 'main');
  // The webhook's deploy first: if it failed, the push rightly found main unmoved, and its log says why.
  const build = await finishedBuild(delivered.body.build);
  assert.equal(build.status, 'succeeded', `${build.error}\n${await buildLog(build.id)}`);
  assert.notEqual(pushed.code, 0, pushed.output);
  assert.match(pushed.output, /Waiting for the deploy of v\d+ of .* to finish|Waiting for the running change/);
  assert.match(pushed.output, new RegExp(`main moved to ${five.slice(0, 7)} while this push waited`));
  assert.match(await served(), /site version five/);
  assert.ok(!(await berth.ok<any[]>('GET', `/apps/${app}/builds`)).some((b) => b.commitSha === four), 'the refused push built nothing');
});

test('apps:rename moves the connection with the app; apps:disconnect ends it (webhooks then refused)', async () => {
  const renamed = uniqueName('hooked');
  await berth.ok('PATCH', `/apps/${app}`, { name: renamed });
  app = renamed;
  const connection = await berth.ok('GET', `/apps/${app}/connection`);
  assert.equal(connection.webhookUrl, `${berth.url}/hooks/git/${app}`);
  const ping = JSON.stringify({ zen: 'x' });
  assert.equal((await deliver(app, ping, signedHeaders('github', ping, 'ping'))).status, 200);
  const res = cli(['apps:disconnect', app]);
  assert.equal(res.code, 0, res.err);
  assert.equal((await deliver(app, ping, signedHeaders('github', ping, 'ping'))).status, 401);
});

test('an SSH repository gets a fresh ed25519 deploy key, printed once connected', async () => {
  const res = await berth.api('POST', `/apps/${app}/connection`, { repo: `ssh://git@127.0.0.1:${host.port}/site.git`, secret: 'a-secret-of-sixteen-chars' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.match(res.body.connection.deployKey, new RegExp(`^ssh-ed25519 \\S+ berth-deploy-${app}$`));
  assert.equal(res.body.webhookSecret, null, 'a secret given is not echoed');
  const again = await berth.ok('GET', `/apps/${app}/connection`);
  assert.equal(again.deployKey, res.body.connection.deployKey);
  const tokenForSsh = await berth.api('POST', `/apps/${app}/connection`, { repo: `ssh://git@127.0.0.1:${host.port}/site.git`, token: 'x' });
  assert.equal(tokenForSsh.status, 400);
});

test('a review app cannot be connected: its source is its parent\'s branch', async () => {
  await berth.ok('PATCH', `/apps/${app}/reviews`, { enabled: true, ttl: '1h' });
  const remote = `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`;
  const pushed = await gitPush(repo, remote, 'HEAD:refs/heads/feature-x');
  assert.equal(pushed.code, 0, pushed.output);
  const review = `${app}--feature-x`;
  const res = await berth.api('POST', `/apps/${review}/connection`, { repo: host.url('site') });
  assert.equal(res.status, 422, JSON.stringify(res.body));
  assert.equal(res.body.error, 'review_app');
  await berth.api('DELETE', `/apps/${review}`, { confirm: review });
});
