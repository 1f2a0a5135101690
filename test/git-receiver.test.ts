// The git receiver against the real git client: push, reject, clone, auth, limits, hook failures.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { openDb, type Db } from '../src/state/db.ts';
import { AuthStore } from '../src/state/auth-store.ts';
import { createGitRoutes } from '../src/git/receiver.ts';
import { preReceiveScript } from '../src/git/repos.ts';
import { hookCommand } from '../src/executable/self.ts';
import { serveHookSocket, type HookSocket } from '../src/git/hook-endpoint.ts';
import type { PushEvent } from '../src/git/types.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const APPS = new Set(['shop', 'big', 'other']);
const MAX_PUSH_BYTES = 1024 * 1024;
const STEP_MS = 400;

let tmp: string;
let reposDir: string;
let hookEntry: string;
let db: Db;
let server: ReturnType<typeof serve>;
let port: number;
let hookSocket: HookSocket;
let token: string;          // alice: may push to every app
let outsiderToken: string;  // bob: may push to nothing
const pushes: { event: PushEvent; finishedAt: number; files: string[] }[] = [];
const hungUp = { aborted: false };

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-git-'));
  reposDir = path.join(tmp, 'repos');
  db = openDb(path.join(tmp, 'berth.db'));
  const auth = new AuthStore(db);
  token = auth.issueToken(auth.createUser('alice', 'member').id, 'test');
  outsiderToken = auth.issueToken(auth.createUser('bob', 'member').id, 'test');
  // The hook entry a real server from sources runs (hookCommand()): it only hands over to runPreReceiveHook().
  hookEntry = path.join(ROOT, 'src/server/git-hook.ts');

  let root: Hono | undefined;
  server = serve({ fetch: (req, env) => root!.fetch(req, env), hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  port = (server.address() as net.AddressInfo).port;
  const routes = createGitRoutes({
    reposDir, hookCommand: [process.execPath, hookEntry], hookSocket: path.join(tmp, 'run', 'git-hook.sock'), auth,
    appExists: (name) => APPS.has(name),
    canPush: (user) => user.name === 'alice',
    onPush: deployForTest,
    maxPushBytes: MAX_PUSH_BYTES,
    log: () => {},
  });
  hookSocket = await serveHookSocket(routes.hook, path.join(tmp, 'run', 'git-hook.sock'));
  // Same apps, but its hooks call a socket nobody listens on.
  const unreachable = createGitRoutes({
    reposDir: path.join(tmp, 'repos-unreachable'), hookCommand: [process.execPath, hookEntry], hookSocket: path.join(tmp, 'run', 'nobody.sock'), auth,
    appExists: (name) => APPS.has(name), canPush: () => true, onPush: deployForTest, maxPushBytes: MAX_PUSH_BYTES, log: () => {},
  });
  root = new Hono();
  root.route('/git', routes.git);
  root.route('/unreachable', unreachable.git);
});

after(async () => {
  server?.close();
  await hookSocket?.close();
  db?.$client.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Talks a little (slowly, to check the lines arrive live), reads the archive, and decides. */
async function deployForTest(event: PushEvent): Promise<boolean> {
  event.say(`Building ${event.app} for ${event.user}...`);
  await sleep(STEP_MS);
  event.say('Step 2 of 3');
  await sleep(STEP_MS);
  const update = event.updates[0];
  const files = tarNames(await readAll(event.archive(update)));
  event.say(`Step 3 of 3: ${files.length} file(s)`);
  await sleep(STEP_MS);
  pushes.push({ event, finishedAt: Date.now(), files });
  if (files.includes('SLOW')) {
    event.say('Waiting for the pusher to hang up...');
    let timer: NodeJS.Timeout | undefined;
    await new Promise((resolve) => { event.signal.addEventListener('abort', resolve); timer = setTimeout(resolve, 10_000); });
    clearTimeout(timer);
    hungUp.aborted = event.signal.aborted;
    return true;
  }
  if (files.includes('REJECT')) {
    event.say('error: the tree contains a REJECT file');
    return false;
  }
  if (update.ref !== 'refs/heads/main') {
    event.say(`error: Berth deploys from main, not ${update.ref}`);
    return false;
  }
  event.say('Deployed.');
  return true;
}

// --- git client helpers ---

interface GitRun { code: number; stdout: string; stderr: string; lines: { at: number; line: string }[] }

/** Runs git; `watch` sees each stderr line as it arrives and may hang up (kill git and its helpers). */
function git(args: string[], cwd = tmp, watch?: (line: string, hangUp: () => void) => void, extraEnv: Record<string, string> = {}): Promise<GitRun> {
  const env = {
    PATH: process.env.PATH ?? '', HOME: path.join(tmp, 'home'), GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.com',
    ...extraEnv,
  };
  const child = spawn('git', ['-c', 'credential.helper=', ...args], { cwd, env, detached: true });
  const hangUp = () => process.kill(-child.pid!, 'SIGKILL');
  const result: GitRun = { code: -1, stdout: '', stderr: '', lines: [] };
  let partial = '';
  child.stdout.on('data', (chunk) => { result.stdout += chunk; });
  // Reads stderr as it comes, stamping each line: that is how we see whether remote lines are live.
  child.stderr.on('data', (chunk: Buffer) => {
    result.stderr += chunk;
    const lines = (partial + chunk.toString()).split(/\r?\n|\r/);
    partial = lines.pop() ?? '';
    // git pads remote lines with spaces (to clear progress output): not part of the message.
    for (const line of lines) {
      result.lines.push({ at: Date.now(), line: line.trimEnd() });
      watch?.(line.trimEnd(), hangUp);
    }
  });
  return new Promise((resolve) => child.on('close', (code) => {
    if (partial) result.lines.push({ at: Date.now(), line: partial });
    result.code = code ?? -1;
    resolve(result);
  }));
}

async function ok(args: string[], cwd = tmp): Promise<string> {
  const run = await git(args, cwd);
  assert.equal(run.code, 0, `git ${args.join(' ')} failed:\n${run.stderr}`);
  return run.stdout.trim();
}

const gitUrl = (app: string, secret = token) => `http://berth:${secret}@127.0.0.1:${port}/git/${app}.git`;
const serverRef = (app: string, ref = 'main') => git(['--git-dir', path.join(reposDir, `${app}.git`), 'rev-parse', '--verify', '--quiet', ref]);

/** A fresh work tree with one commit on `branch` and the remote `paas`. */
async function workTree(app: string, files: Record<string, string | Buffer>, branch = 'main', secret = token): Promise<string> {
  const dir = fs.mkdtempSync(path.join(tmp, 'work-'));
  await ok(['init', '--quiet', `--initial-branch=${branch}`], dir);
  await commit(dir, files);
  await ok(['remote', 'add', 'paas', gitUrl(app, secret)], dir);
  return dir;
}

async function commit(dir: string, files: Record<string, string | Buffer>): Promise<string> {
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  await ok(['add', '--all'], dir);
  await ok(['commit', '--quiet', '-m', `change ${Object.keys(files).join(' ')}`], dir);
  return ok(['rev-parse', 'HEAD'], dir);
}

const remoteLines = (run: GitRun) => run.lines.filter((l) => l.line.startsWith('remote:'));

// --- tests ---

test('an accepted push: live remote lines, the archive has the files, the ref is updated', async () => {
  const dir = await workTree('shop', { 'index.js': 'console.log("hi")\n', 'Procfile': 'web: node index.js\n' });
  const head = await ok(['rev-parse', 'HEAD'], dir);
  const run = await git(['push', 'paas', 'main'], dir);
  assert.equal(run.code, 0, run.stderr);

  const said = remoteLines(run).map((l) => l.line);
  assert.deepEqual(said.slice(0, 4), ['remote: Building shop for alice...', 'remote: Step 2 of 3', 'remote: Step 3 of 3: 2 file(s)', 'remote: Deployed.']);
  assert.ok(!run.stderr.includes('berth:accept'), 'the accept marker is never shown');
  const push = pushes.at(-1)!;
  assert.deepEqual(push.files.sort(), ['Procfile', 'index.js']);
  assert.deepEqual(push.event.updates, [{ oldSha: '0'.repeat(40), newSha: head, ref: 'refs/heads/main' }]);
  const firstLineAt = remoteLines(run)[0].at;
  assert.ok(firstLineAt < push.finishedAt - 2 * STEP_MS, `the first remote line arrived ${push.finishedAt - firstLineAt} ms before the deploy finished: not live`);

  assert.equal((await serverRef('shop')).stdout.trim(), head);
  assert.match(await ok(['ls-remote', gitUrl('shop')]), new RegExp(`^${head}\\s+refs/heads/main$`, 'm'));
  const repo = path.join(reposDir, 'shop.git');
  // Deletions are the hook's to refuse (only review branches get through): git itself lets them reach it.
  assert.equal((await ok(['--git-dir', repo, 'config', 'receive.denyDeletes'])), 'false');
  assert.match(fs.readFileSync(path.join(repo, 'hooks/pre-receive'), 'utf8'), new RegExp(`exec '${process.execPath}'`));
});

test('a rejected push: non-zero exit, the reason among the last lines, the ref unchanged', async () => {
  const before = (await serverRef('shop')).stdout.trim();
  const dir = fs.mkdtempSync(path.join(tmp, 'clone-'));
  await ok(['clone', '--quiet', gitUrl('shop'), dir]);
  await commit(dir, { REJECT: 'no\n' });
  await ok(['remote', 'add', 'paas', gitUrl('shop')], dir);
  const run = await git(['push', 'paas', 'main'], dir);
  assert.notEqual(run.code, 0);
  const said = remoteLines(run).map((l) => l.line);
  assert.equal(said.at(-1), 'remote: error: the tree contains a REJECT file');
  assert.match(run.stderr, /\[remote rejected\] main -> main \(pre-receive hook declined\)/);
  assert.equal((await serverRef('shop')).stdout.trim(), before);
});

test('a clone gives back the pushed commit', async () => {
  const pushed = (await serverRef('shop')).stdout.trim();
  const dir = path.join(tmp, 'cloned');
  await ok(['clone', '--quiet', gitUrl('shop'), dir]);
  assert.equal(await ok(['rev-parse', 'HEAD'], dir), pushed);
  assert.equal(fs.readFileSync(path.join(dir, 'Procfile'), 'utf8'), 'web: node index.js\n');

  // Local commits the server lacks: the next fetch has to negotiate with them (see below).
  for (let i = 0; i < 60; i++) await ok(['commit', '--quiet', '--allow-empty', '-m', `local ${i}`], dir);
});

test('git push paas dev:main updates main', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'dev-'));
  await ok(['clone', '--quiet', '--origin', 'paas', gitUrl('shop'), dir]);
  await ok(['checkout', '--quiet', '-b', 'dev'], dir);
  const head = await commit(dir, { 'feature.txt': 'new\n' });
  const run = await git(['push', 'paas', 'dev:main'], dir);
  assert.equal(run.code, 0, run.stderr);
  assert.equal((await serverRef('shop')).stdout.trim(), head);
});

test('a fetch whose negotiation git sends gzipped works', async () => {
  const dir = path.join(tmp, 'cloned');
  const fetch = await git(['fetch', 'origin'], dir, undefined, { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' });
  assert.equal(fetch.code, 0, fetch.stderr);
  assert.match(fetch.stderr, /Send header: Content-Encoding: gzip/i);
  assert.equal(await ok(['rev-parse', 'origin/main'], dir), (await serverRef('shop')).stdout.trim());
});

test('a pusher hanging up mid-deploy aborts the push signal, and the ref stays', async () => {
  const before = (await serverRef('shop')).stdout.trim();
  const dir = fs.mkdtempSync(path.join(tmp, 'slow-'));
  await ok(['clone', '--quiet', '--origin', 'paas', gitUrl('shop'), dir]);
  await commit(dir, { SLOW: 'zzz\n' });
  const started = Date.now();
  const run = await git(['push', 'paas', 'main'], dir, (line, hangUp) => {
    if (line.includes('Waiting for the pusher to hang up')) hangUp();
  });
  assert.notEqual(run.code, 0);
  await waitFor(() => hungUp.aborted, 'the push signal was not aborted');
  assert.ok(Date.now() - started < 8000, 'aborted long before the handler would have given up');
  await sleep(300);
  assert.equal((await serverRef('shop')).stdout.trim(), before);

  // The killed receive-pack left its quarantine; once stale, the next open of the repo removes it.
  const objects = path.join(reposDir, 'shop.git', 'objects');
  const quarantines = () => fs.readdirSync(objects).filter((name) => name.startsWith('tmp_objdir-incoming-'));
  assert.ok(quarantines().length > 0, 'expected the killed push to leave its quarantine');
  const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
  for (const name of quarantines()) fs.utimesSync(path.join(objects, name), twoDaysAgo, twoDaysAgo);
  await ok(['ls-remote', gitUrl('shop')]);
  assert.deepEqual(quarantines(), []);
});

test('deleting main is refused with a clear message', async () => {
  const before = (await serverRef('shop')).stdout.trim();
  const dir = await workTree('shop', { 'x.txt': 'x\n' });
  const run = await git(['push', 'paas', ':main'], dir);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /remote: Deleting branch main is refused: a Berth app's branches cannot be deleted\./);
  assert.match(run.stderr, /\[remote rejected\] main \(pre-receive hook declined\)/);
  assert.equal((await serverRef('shop')).stdout.trim(), before);
});

test('a stale hook is rewritten when the repository is opened again', async () => {
  const hook = path.join(reposDir, 'shop.git', 'hooks', 'pre-receive');
  fs.writeFileSync(hook, '#!/bin/sh\necho stale hook; exit 1\n');
  await ok(['ls-remote', gitUrl('shop')]);
  assert.match(fs.readFileSync(hook, 'utf8'), /git-hook/);
});

test('a wrong token gets 401 and git fails with an authentication error', async () => {
  const res = await rawGet('/git/shop.git/info/refs?service=git-receive-pack', 'berth_wrong');
  assert.equal(res.status, 401);
  assert.equal(res.headers['www-authenticate'], 'Basic realm="Berth"');
  assert.match(res.body, /Invalid Berth API token/);
  assert.equal((await rawGet('/git/shop.git/info/refs?service=git-upload-pack', null)).status, 401);

  const dir = await workTree('shop', { 'a.txt': 'a\n' }, 'main', 'berth_wrong');
  const run = await git(['push', 'paas', 'main'], dir);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /Authentication failed/);
  const clone = await git(['clone', gitUrl('shop', 'berth_wrong'), path.join(tmp, 'nope')]);
  assert.match(clone.stderr, /Authentication failed/);
});

test('an unknown app gets a readable 404', async () => {
  const dir = await workTree('nope', { 'a.txt': 'a\n' });
  const run = await git(['push', 'paas', 'main'], dir);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /remote: App "nope" not found\. Create it with: berth apps:create nope/);
  assert.ok(!fs.existsSync(path.join(reposDir, 'nope.git')));
});

test('a user without access gets 403, for push and for clone', async () => {
  const dir = await workTree('other', { 'a.txt': 'a\n' }, 'main', outsiderToken);
  const run = await git(['push', 'paas', 'main'], dir);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /remote: You \(bob\) do not have access to app "other"/);
  assert.match(run.stderr, /403/);
  const clone = await git(['clone', gitUrl('other', outsiderToken), path.join(tmp, 'nope2')]);
  assert.match(clone.stderr, /403/);
});

test('a push over maxPushBytes is refused clearly and stores nothing', async () => {
  const dir = await workTree('big', { 'blob.bin': crypto.randomBytes(2 * 1024 * 1024) });
  const run = await git(['push', 'paas', 'main'], dir);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /larger than the 1 MiB this Berth server accepts/);
  const repo = path.join(reposDir, 'big.git');
  assert.equal((await serverRef('big')).code, 1, 'main must not exist');
  await waitFor(() => storedObjects(repo).length === 0, `objects left behind: ${storedObjects(repo).join(', ')}`);

  // With a big enough buffer git announces the size (Content-Length): refused before any git runs.
  const announced = await git(['-c', 'http.postBuffer=8388608', 'push', 'paas', 'main'], dir);
  assert.notEqual(announced.code, 0);
  assert.match(announced.stderr, /remote: Push refused: it is larger than the 1 MiB this Berth server accepts\./);
  assert.match(announced.stderr, /\[remote rejected\] main -> main \(push too large\)/);
  assert.equal((await serverRef('big')).code, 1, 'main must not exist');
  assert.deepEqual(storedObjects(repo), []);
});

test('path traversal in the app name is refused and creates nothing', async () => {
  for (const repoPath of ['..%2Fevil.git', '%2E%2E%2Fevil.git', '..%2F..%2Fevil.git', '.git', 'shop.git%2F..%2F..%2Fevil.git']) {
    for (const url of [`/git/${repoPath}/info/refs?service=git-receive-pack`]) {
      const res = await rawGet(url, token);
      assert.ok([400, 404].includes(res.status), `${url} answered ${res.status}`);
    }
  }
  const res = await rawPost('/git/..%2Fevil.git/git-receive-pack', token, '0000');
  assert.ok([400, 404].includes(res.status));
  const created = fs.readdirSync(tmp).filter((name) => name.includes('evil'));
  assert.deepEqual(created, []);
  assert.deepEqual(fs.readdirSync(reposDir).sort(), ['big.git', 'shop.git']);
});

test('the hook endpoint is only on its own socket (0600), and only takes this process\'s token', async () => {
  assert.equal(fs.statSync(hookSocket.path).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(hookSocket.path)).mode & 0o777, 0o700);
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request({ socketPath: hookSocket.path, path: '/', method: 'POST', headers: { 'x-berth-hook-token': 'guess', 'content-type': 'application/json' } },
      (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject).end('{}');
  });
  assert.equal(status, 403);
  const onHttpPort = await fetch(`http://127.0.0.1:${port}/git-hook`, { method: 'POST', body: '{}' });
  assert.equal(onHttpPort.status, 404);
});

test('a push whose hook cannot reach the server is rejected with a clear line', async () => {
  const dir = await workTree('shop', { 'a.txt': 'a\n' });
  await ok(['remote', 'set-url', 'paas', `http://berth:${token}@127.0.0.1:${port}/unreachable/shop.git`], dir);
  const run = await git(['push', 'paas', 'main'], dir);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /remote: Push rejected: the Berth server could not be reached \(.*(ENOENT|ECONNREFUSED).*\)\. Try again in a moment\./);
  assert.match(run.stderr, /\[remote rejected\] main -> main \(pre-receive hook declined\)/);
  assert.equal((await git(['--git-dir', path.join(tmp, 'repos-unreachable', 'shop.git'), 'rev-parse', '--verify', '--quiet', 'main'])).code, 1);
});

test('the hook, run directly, rejects with a clear line when the server is unreachable', async () => {
  const child = spawn(process.execPath, [hookEntry, 'git-hook'], {
    cwd: path.join(reposDir, 'shop.git'),
    env: { ...process.env, BERTH_HOOK_SOCKET: path.join(tmp, 'run', 'nobody.sock'), BERTH_HOOK_TOKEN: 'x', BERTH_APP: 'shop', BERTH_PUSH_USER: 'alice' },
  });
  child.stdin.end(`${'0'.repeat(40)} ${'1'.repeat(40)} refs/heads/main\n`);
  let stdout = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 1);
  assert.match(stdout, /^Push rejected: the Berth server could not be reached \(.*(ENOENT|ECONNREFUSED).*\)\. Try again in a moment\.\n$/);
});

// --- small helpers ---

function rawRequest(method: string, url: string, secret: string | null, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const headers: Record<string, string> = secret ? { authorization: `Basic ${Buffer.from(`berth:${secret}`).toString('base64')}` } : {};
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: url, headers }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const rawGet = (url: string, secret: string | null) => rawRequest('GET', url, secret);
const rawPost = (url: string, secret: string | null, body: string) => rawRequest('POST', url, secret, body);

/** Loose objects, packs and leftover quarantine directories. */
function storedObjects(repo: string): string[] {
  const objects = path.join(repo, 'objects');
  return fs.readdirSync(objects, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() || entry.name.startsWith('incoming-') || entry.name.startsWith('tmp_'))
    .map((entry) => path.relative(objects, path.join(entry.parentPath, entry.name)));
}

function tarNames(tar: Buffer): string[] {
  const names: string[] = [];
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156]);
    if (type === '0' || type === '\0') names.push(name);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}


async function waitFor(check: () => boolean, message: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(message);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the hook runs from the small git-hook entry beside the server entry, the executable alone, or the server entry without one', () => {
  assert.deepEqual(hookCommand(['/opt/node', path.join(ROOT, 'src/server/main.ts')]), ['/opt/node', path.join(ROOT, 'src/server/git-hook.ts')]);
  assert.deepEqual(hookCommand(['/usr/local/bin/berth']), ['/usr/local/bin/berth']);
  const alone = path.join(tmp, 'copied', 'berth-server.mjs'); // a bundle copied without dist/git-hook.mjs
  assert.deepEqual(hookCommand(['/opt/node', alone]), ['/opt/node', alone]);
  fs.mkdirSync(path.dirname(alone), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'copied', 'git-hook.mjs'), '');
  assert.deepEqual(hookCommand(['/opt/node', alone]), ['/opt/node', path.join(tmp, 'copied', 'git-hook.mjs')]);
});

test('the hook script runs `node --no-warnings ENTRY git-hook`, or the single executable alone, each word quoted', () => {
  assert.match(preReceiveScript(['/opt/node', "/srv/it's/main.mjs"]), /^exec '\/opt\/node' '--no-warnings' '\/srv\/it'\\''s\/main\.mjs' git-hook$/m);
  assert.match(preReceiveScript(['/usr/local/bin/berth']), /^exec '\/usr\/local\/bin\/berth' git-hook$/m);
});
