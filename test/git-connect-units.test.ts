// apps:connect's parts without Docker: which repository URLs pass, webhook signatures of GitHub, Gitea and
// GitLab, what a delivery asks for, the hardened git command, and the fetcher against a real HTTPS git
// host on loopback (token, address pinning, redirects, the outbound policy, the size cap, SSH deploy keys).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseBranch, parseRepoUrl } from '../src/connect/repo-url.ts';
import { checkSignature, readDelivery, senderOf } from '../src/connect/webhook-delivery.ts';
import { fetchCommand, sshCommand } from '../src/connect/fetch-command.ts';
import { RepoFetcher } from '../src/connect/repo-fetcher.ts';
import { generateDeployKey } from '../src/connect/deploy-key.ts';
import { OutboundPolicy, parseAllowList } from '../src/shared/outbound-address.ts';
import { OutboundGuard, type Resolver } from '../src/shared/outbound-request.ts';
import { BerthError } from '../src/shared/errors.ts';
import { openDb } from '../src/state/db.ts';
import { openConfigSecrets } from '../src/state/config-secrets.ts';
import { AppsStore } from '../src/state/apps-store.ts';
import { ConnectionsStore } from '../src/state/connections-store.ts';
import { startGitHttpsServer, type GitHttpsServer } from './support/git-https-server.ts';
import { gitEnv } from './support/git-env.ts';

const HOSTILE_URLS: [string, RegExp][] = [
  ['file:///etc', /file:\/\/ repositories are not accepted/],
  ['ext::sh -c touch% /tmp/pwned', /spaces or control characters/],
  ['ext::sh', /Not a repository URL/],
  ['/srv/git/app.git', /Not a repository URL/],
  ['../other-app.git', /Not a repository URL/],
  ['-uhttps://example.com/x.git', /starts with "-"/],
  ['--upload-pack=touch /tmp/x', /spaces or control characters/],
  ['--upload-pack=sh', /starts with "-"/],
  ['http://example.com/app.git', /http:\/\/ repositories are not accepted/],
  ['git://example.com/app.git', /git:\/\/ repositories are not accepted/],
  ['https://user:s3cret@example.com/app.git', /holds credentials/],
  ['https://ghp_token@example.com/app.git', /holds credentials/],
  ['ssh://git:pw@example.com/app.git', /password/],
  ['ssh://-oProxyCommand=touch/app.git', /no valid host name/],
  ['git@-oProxyCommand=touch:app.git', /no valid host name/],
  ['git@example.com:-app.git', /starts with "-"/],
  ['-oProxyCommand=x@example.com:app.git', /starts with "-"/],
  ['https://example.com/app.git\nfoo', /control characters/],
  ['https://example.com/', /no path/],
  ['https://example.com/app.git?x=1', /query or fragment/],
  ['fd::host:app.git', /Not a repository URL/],
];

test('hostile repository URLs are refused, each with its reason, never echoing a credential', () => {
  for (const [url, reason] of HOSTILE_URLS) {
    assert.throws(() => parseRepoUrl(url), (err: BerthError) => {
      assert.equal(err.status, 400, url);
      assert.match(err.message, reason, url);
      assert.doesNotMatch(err.message, /s3cret|ghp_token/);
      return true;
    });
  }
});

test('https, ssh:// and scp-like URLs pass, with their host and port', () => {
  assert.deepEqual(parseRepoUrl('https://github.com/acme/shop.git'), { kind: 'https', url: 'https://github.com/acme/shop.git', host: 'github.com', port: 443 });
  assert.deepEqual(parseRepoUrl('https://Git.Example.com:8443/a/b'), { kind: 'https', url: 'https://git.example.com:8443/a/b', host: 'git.example.com', port: 8443 });
  assert.deepEqual(parseRepoUrl('https://[2001:db8::1]/a.git'), { kind: 'https', url: 'https://[2001:db8::1]/a.git', host: '2001:db8::1', port: 443 });
  assert.deepEqual(parseRepoUrl('git@github.com:acme/shop.git'), { kind: 'ssh', url: 'git@github.com:acme/shop.git', user: 'git', host: 'github.com', port: 22 });
  assert.deepEqual(parseRepoUrl('ssh://git@gitlab.example.com:2222/acme/shop.git'),
    { kind: 'ssh', url: 'ssh://git@gitlab.example.com:2222/acme/shop.git', user: 'git', host: 'gitlab.example.com', port: 2222 });
  assert.equal(parseRepoUrl('ssh://example.com/x.git').url, 'ssh://git@example.com/x.git');
});

test('branches are plain names', () => {
  assert.equal(parseBranch(undefined), 'main');
  assert.equal(parseBranch('release/2024.1'), 'release/2024.1');
  for (const bad of ['-x', '--upload-pack=x', 'a..b', 'a b', '@{-1}', 'x.lock', '/x', 'x/', 'a/.hidden', 'HEAD^', 'x~1', 'a:b', 42]) {
    assert.throws(() => parseBranch(bad), /plain branch name/, String(bad));
  }
});

const SECRET = 'correct horse battery staple';
const BODY = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40) }));
const hmac = (secret: string, body = BODY) => crypto.createHmac('sha256', secret).update(body).digest('hex');
const headers = (h: Record<string, string>) => (name: string) => h[name];

test('GitHub, Gitea and GitLab signatures: the right one passes, wrong, missing or malformed ones fail', () => {
  const github = { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(SECRET)}` };
  assert.deepEqual(checkSignature(headers(github), BODY, SECRET), { ok: true, host: 'github' });
  assert.deepEqual(checkSignature(headers({ ...github, 'x-hub-signature-256': `sha256=${hmac('other secret')}` }), BODY, SECRET), { ok: false, reason: 'invalid webhook signature' });
  assert.deepEqual(checkSignature(headers(github), Buffer.concat([BODY, Buffer.from(' ')]), SECRET), { ok: false, reason: 'invalid webhook signature' });
  assert.deepEqual(checkSignature(headers({ ...github, 'x-hub-signature-256': hmac(SECRET) }), BODY, SECRET), { ok: false, reason: 'invalid webhook signature' });
  assert.deepEqual(checkSignature(headers({ 'x-github-event': 'push' }), BODY, SECRET), { ok: false, reason: 'unsigned webhook' });
  assert.deepEqual(checkSignature(headers({}), BODY, SECRET), { ok: false, reason: 'unsigned webhook' });

  const gitea = { 'x-gitea-event': 'push', 'x-github-event': 'push', 'x-gitea-signature': hmac(SECRET) };
  assert.deepEqual(checkSignature(headers(gitea), BODY, SECRET), { ok: true, host: 'gitea' });
  assert.deepEqual(checkSignature(headers({ ...gitea, 'x-gitea-signature': hmac('nope') }), BODY, SECRET), { ok: false, reason: 'invalid webhook signature' });
  assert.deepEqual(checkSignature(headers({ ...gitea, 'x-gitea-signature': `sha256=${hmac(SECRET)}` }), BODY, SECRET), { ok: false, reason: 'invalid webhook signature' });

  const gitlab = { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET };
  assert.deepEqual(checkSignature(headers(gitlab), BODY, SECRET), { ok: true, host: 'gitlab' });
  assert.deepEqual(checkSignature(headers({ ...gitlab, 'x-gitlab-token': `${SECRET} ` }), BODY, SECRET), { ok: false, reason: 'invalid webhook signature' });
  assert.deepEqual(checkSignature(headers({ 'x-gitlab-event': 'Push Hook' }), BODY, SECRET), { ok: false, reason: 'unsigned webhook' });
  assert.equal(senderOf(headers({ 'x-gitea-event': 'push', 'x-github-event': 'push' })), 'gitea');
});

test('what a delivery asks for: ping, a push, a deletion, other events', () => {
  const gh = (event: string) => headers({ 'x-github-event': event });
  assert.deepEqual(readDelivery('github', gh('ping'), { zen: 'x' }), { kind: 'ping' });
  assert.deepEqual(readDelivery('github', gh('push'), { ref: 'refs/heads/main', after: 'A'.repeat(40) }), { kind: 'push', branch: 'main', sha: 'a'.repeat(40) });
  assert.deepEqual(readDelivery('github', gh('push'), { ref: 'refs/heads/x', after: '0'.repeat(40) }), { kind: 'branch deleted', branch: 'x' });
  assert.deepEqual(readDelivery('github', gh('push'), { ref: 'refs/tags/v1', after: 'b'.repeat(40) }), { kind: 'ignored', what: 'a push to refs/tags/v1' });
  assert.deepEqual(readDelivery('github', gh('issues'), {}), { kind: 'ignored', what: 'issues event' });
  assert.ok('error' in readDelivery('github', gh('push'), { ref: 'refs/heads/main', after: 'nope' }));
  assert.ok('error' in readDelivery('github', gh('push'), null));
  assert.deepEqual(readDelivery('gitlab', headers({ 'x-gitlab-event': 'Push Hook' }), { ref: 'refs/heads/dev', after: 'c'.repeat(40) }), { kind: 'push', branch: 'dev', sha: 'c'.repeat(40) });
  assert.deepEqual(readDelivery('gitlab', headers({ 'x-gitlab-event': 'Tag Push Hook' }), {}), { kind: 'ignored', what: 'Tag Push Hook event' });
  assert.deepEqual(readDelivery('gitea', headers({ 'x-gitea-event': 'push' }), { ref: 'refs/heads/main', after: 'd'.repeat(40) }), { kind: 'push', branch: 'main', sha: 'd'.repeat(40) });
});

test('the git command: pinned to the checked addresses, one protocol, no redirects, prompts, user config or submodules; the token only in the environment', () => {
  const cmd = fetchCommand({
    repo: parseRepoUrl('https://git.example.com/a.git'), addresses: ['203.0.113.7', '2001:db8::7'], gitDir: '/data/repos/a.git',
    branch: 'main', targetRef: 'refs/berth/connected', authorization: 'Authorization: Basic c2VjcmV0', emptyHome: '/tmp/h', path: '/usr/bin',
  });
  const args = cmd.args.join(' ');
  for (const expected of ['http.curloptResolve=git.example.com:443:203.0.113.7,[2001:db8::7]', 'http.followRedirects=false', 'protocol.allow=never',
    'protocol.https.allow=always', 'credential.helper=', 'fetch.recurseSubmodules=false', 'transfer.fsckObjects=true', '--no-recurse-submodules',
    '--end-of-options https://git.example.com/a.git +refs/heads/main:refs/berth/connected']) {
    assert.ok(args.includes(expected), `${expected} in ${args}`);
  }
  assert.doesNotMatch(args, /c2VjcmV0/);
  assert.equal(cmd.env.GIT_CONFIG_VALUE_0, 'Authorization: Basic c2VjcmV0');
  assert.deepEqual([cmd.env.GIT_ALLOW_PROTOCOL, cmd.env.GIT_TERMINAL_PROMPT, cmd.env.GIT_CONFIG_NOSYSTEM, cmd.env.GIT_CONFIG_GLOBAL, cmd.env.HOME],
    ['https', '0', '1', '/dev/null', '/tmp/h']);
  assert.equal(Object.keys(cmd.env).some((k) => k === 'SSH_AUTH_SOCK' || k === 'GIT_SSH_COMMAND'), false);

  const ssh = fetchCommand({ repo: parseRepoUrl('git@git.example.com:a.git'), addresses: ['203.0.113.7'], gitDir: '/g', branch: 'main',
    targetRef: 'refs/berth/connected', keyFile: "/k/it's", knownHostsFile: '/k/kh', emptyHome: '/tmp/h', path: '/usr/bin' });
  assert.equal(ssh.env.GIT_ALLOW_PROTOCOL, 'ssh');
  assert.match(ssh.env.GIT_SSH_COMMAND!, /^ssh -F \/dev\/null /);
  assert.match(ssh.env.GIT_SSH_COMMAND!, /-o HostName=203\.0\.113\.7 -o CheckHostIP=no/);
  assert.match(ssh.env.GIT_SSH_COMMAND!, /-o HostKeyAlias=git\.example\.com/);
  assert.match(ssh.env.GIT_SSH_COMMAND!, /-o 'IdentityFile=\/k\/it'\\''s'/);
  assert.match(sshCommand('h', '::1', '/k', '/kh'), /IdentityAgent=none .*StrictHostKeyChecking=accept-new .*ProxyCommand=none/);
});

test('deploy keys are fresh ed25519 keys', async () => {
  const [a, b] = await Promise.all([generateDeployKey('berth-deploy-x'), generateDeployKey('berth-deploy-x')]);
  assert.match(a.publicKey, /^ssh-ed25519 \S+ berth-deploy-x$/);
  assert.match(a.privateKey, /BEGIN OPENSSH PRIVATE KEY/);
  assert.notEqual(a.publicKey, b.publicKey);
});

test('the token, webhook secret and deploy key rest sealed, bound to their app, and key rotation re-seals them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-connect-store-'));
  try {
    const db = openDb(path.join(dir, 'berth.db'));
    const secrets = openConfigSecrets(db, path.join(dir, 'secrets.key'));
    const apps = new AppsStore(db, secrets.box);
    const [shop, blog] = [apps.create('shop'), apps.create('blog')];
    const store = new ConnectionsStore(db, secrets.box);
    const key = await generateDeployKey('berth-deploy-shop');
    store.save(shop.id, { repoUrl: 'git@example.com:a.git', branch: 'main', kind: 'ssh', token: { user: 'x-access-token', token: 'tok-123' },
      webhookSecret: 'hook-secret-456', deployKey: key.privateKey, deployPublicKey: key.publicKey, createdBy: 'admin' });
    const sealed = () => db.$client.prepare('SELECT token, webhook_secret, deploy_key FROM app_git_connections WHERE app_id = ?').get(shop.id) as Record<string, string>;
    const before = sealed();
    for (const value of Object.values(before)) assert.match(value, /^enc1:/);
    const rotation = secrets.rotate();
    const after = sealed();
    for (const column of Object.keys(before)) {
      assert.notEqual(after[column], before[column]);
      assert.ok(after[column]!.startsWith(`enc1:${rotation.keyId}:`));
    }
    const opened = store.find(shop.id)!;
    assert.deepEqual([opened.token, opened.webhookSecret, opened.deployKey], [{ user: 'x-access-token', token: 'tok-123' }, 'hook-secret-456', key.privateKey]);
    // A sealed value moved to another app's row does not open.
    db.$client.prepare(`INSERT INTO app_git_connections (app_id, repo_url, branch, kind, webhook_secret, created_by, created_at)
      VALUES (?, 'https://example.com/b.git', 'main', 'https', ?, 'x', 'now')`).run(blog.id, after.webhook_secret);
    assert.throws(() => store.find(blog.id), /cannot be decrypted/);
    db.$client.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The fetcher against a real git host on loopback.
const TOKEN = 'test-token-123';
let host: GitHttpsServer;
let work: string;
let target: string;
let tip: string;

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: gitEnv() }).trim();

before(async () => {
  host = await startGitHttpsServer({ token: TOKEN });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-connect-units-'));
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  git(src, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(src, 'index.html'), 'one\n');
  git(src, 'add', '-A');
  git(src, 'commit', '-qm', 'one');
  tip = git(src, 'rev-parse', 'HEAD');
  host.publish('site', src);
  fs.writeFileSync(path.join(src, 'big.bin'), crypto.randomBytes(3 * 1024 * 1024));
  git(src, 'checkout', '-q', '-b', 'big');
  git(src, 'add', '-A');
  git(src, 'commit', '-qm', 'big');
  host.publish('site', src);
  target = path.join(work, 'target.git');
  git(work, 'init', '-q', '--bare', target);
});

after(async () => {
  await host?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function fetcher(opts: { allow?: string; resolve?: Resolver; maxBytes?: number } = {}): RepoFetcher {
  const guard = new OutboundGuard(new OutboundPolicy({ allow: parseAllowList(opts.allow ?? `127.0.0.1:${host.port}`) }), opts.resolve);
  return new RepoFetcher({ guard, workDir: path.join(work, 'scratch'), extraCaFile: host.caFile, maxBytes: opts.maxBytes ?? 50 * 1024 * 1024, timeoutMs: 30_000, log: () => {} });
}

const fetchSite = (f: RepoFetcher, url: string, token: string | null = TOKEN, branch = 'main') =>
  f.fetch({ gitDir: target, repo: parseRepoUrl(url), branch, targetRef: 'refs/berth/connected', token: token ? { user: 'x-access-token', token } : null });

test('fetches the branch over HTTPS with the token (sent as the Basic password), trusting the extra CA', async () => {
  const before = host.requests.length;
  const result = await fetchSite(fetcher(), host.url('site'));
  assert.equal(result.sha, tip);
  assert.equal(git(work, '--git-dir', target, 'rev-parse', 'refs/berth/connected'), tip);
  const seen = host.requests.slice(before);
  assert.ok(seen.length > 0 && seen.every((r) => r.user === 'x-access-token' && r.password === TOKEN));
});

test('a wrong token fails without prompting', async () => {
  await assert.rejects(fetchSite(fetcher(), host.url('site'), 'wrong'), /git fetch failed: .*(Authentication failed|401|could not read Username)/);
});

test('git dials the address Berth checked: a name only Berth\'s resolver knows is reached through the pin', async () => {
  const resolve: Resolver = async (name) => (name === 'git.example.test' ? [{ address: '127.0.0.1', family: 4 }] : []);
  const result = await fetchSite(fetcher({ resolve }), host.url('site', 'git.example.test'));
  assert.equal(result.sha, tip);
});

test('a name that resolves to a refused address is refused before git runs; so is loopback unless allowed', async () => {
  const before = host.requests.length;
  const rebinding: Resolver = async () => [{ address: '127.0.0.1', family: 4 }, { address: '10.1.2.3', family: 4 }];
  await assert.rejects(fetchSite(fetcher({ resolve: rebinding }), host.url('site', 'git.example.test')),
    (err: BerthError) => err.status === 422 && /does not resolve, or resolves to an address Berth may not reach/.test(err.message));
  await assert.rejects(fetchSite(fetcher({ allow: '' }), host.url('site')),
    (err: BerthError) => err.status === 422 && /127\.0\.0\.1 is a loopback address, which Berth may not reach/.test(err.message));
  assert.equal(host.requests.length, before, 'nothing reached the git host');
});

test('a redirect (even to the same server under another name) is not followed', async () => {
  const before = host.requests.length;
  await assert.rejects(fetchSite(fetcher(), `https://127.0.0.1:${host.port}/moved/site.git`), /git fetch failed/);
  assert.deepEqual(host.requests.slice(before).map((r) => r.path), ['/moved/site.git/info/refs']);
});

test('a fetch larger than the size cap is stopped and said so', async () => {
  await assert.rejects(fetchSite(fetcher({ maxBytes: 1024 * 1024 }), host.url('site'), TOKEN, 'big'), /larger than the 1 MiB a push may be/);
  const leftovers = fs.readdirSync(path.join(target, 'objects', 'pack')).filter((name) => name.startsWith('tmp_'));
  assert.deepEqual(leftovers, [], 'the cut pack is removed');
});
