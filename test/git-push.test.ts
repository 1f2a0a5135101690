// `git push paas main` end to end: the real git client, Berth's receiver, the Docker builder, the
// registry, and a zero-downtime release behind Caddy. The build log streams back as `remote:` lines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { startBerth, viaRouter, eventually, uniqueName, type BerthServer } from './support/berth.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/push');
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work: string;
const app = uniqueName('push');
const host = `${app}.localhost`;

interface PushResult { code: number; output: string; firstRemoteLineMs: number | null; tookMs: number }

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, {
    BERTH_REGISTRY: registry.address, BERTH_KEEP_RELEASES: '2', BERTH_STACK_GENERIC: 'berth/node:24',
  });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-push-'));
  await berth.ok('POST', '/apps', { name: app });
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function remoteUrl(token = berth.token, name = app): string {
  return `http://berth:${token}@127.0.0.1:${berth.port}/git/${name}.git`;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: gitEnv() }).trim();
}

/** A fresh repo holding a copy of a fixture app, with the app's remote as `paas`. */
function makeRepo(fixture: string, dir = path.join(work, fixture)): string {
  fs.cpSync(path.join(FIXTURES, fixture), dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', `${fixture} initial`);
  git(dir, 'remote', 'add', 'paas', remoteUrl());
  return dir;
}

/** Runs git push, recording when the first `remote:` line arrived (it must stream, not come at the end). */
function push(cwd: string, ...args: string[]): Promise<PushResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn('git', ['push', ...args], { cwd, env: gitEnv() });
    let output = '';
    let firstRemoteLineMs: number | null = null;
    const collect = (d: Buffer) => {
      output += d;
      if (firstRemoteLineMs === null && output.includes('remote: ')) firstRemoteLineMs = Date.now() - started;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('close', (code) => resolve({ code: code ?? -1, output, firstRemoteLineMs, tookMs: Date.now() - started }));
  });
}

const get = (route = '/') => viaRouter(caddy.httpPort, host, route);

/** Gives the next build a build step that takes a few seconds, so a test can act while it runs. */
function slowBuild(repo: string, seconds: number): void {
  const file = path.join(repo, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  // A nonce keeps Docker's layer cache from skipping the slow step on a machine that ran this before.
  const nonce = Math.random().toString(36).slice(2);
  pkg.scripts.build = `node -e "require('fs').writeFileSync('built.txt', 'built at build time'); setTimeout(() => {}, ${seconds * 1000}) /* ${nonce} */"`;
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2));
}
const remoteRef = (dir: string, ref: string) => git(dir, 'ls-remote', 'paas', ref).split(/\s+/)[0] ?? '';

test('first push builds the Node app, streams the build, runs the release phase and goes live', async () => {
  const repo = makeRepo('node-app');
  const result = await push(repo, 'paas', 'main');
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /remote: -----> Building push-\w+ from [0-9a-f]{7} \(main\)/);
  assert.match(result.output, /remote: -----> Node\.js app built as 127\.0\.0\.1:\d+\/push-\w+:v1/);
  assert.match(result.output, /remote: .*npm ci/);
  assert.match(result.output, /remote: -----> Pushing .* to the registry/);
  assert.match(result.output, /remote: .*release: running migrations for v1/);
  assert.match(result.output, /remote: .*web\.1 is healthy/);
  assert.match(result.output, new RegExp(`remote: -----> v1 deployed to http://${app}\\.localhost:\\d+/`));
  assert.ok(result.firstRemoteLineMs !== null && result.firstRemoteLineMs < result.tookMs - 1000,
    'the first remote: line arrived while the build was still running');
  assert.match((await get()).body, /node-app one on v1 \(is-number=true, built at build time\)/);

  const [release] = await berth.ok('GET', `/apps/${app}/releases`);
  assert.match(release.imageDigest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(release.image, `${registry.address}/${app}:v1`);
  const formation = await berth.ok('GET', `/apps/${app}/formation`);
  assert.deepEqual(formation.map((f: any) => [f.type, f.quantity, f.command]), [['web', 1, 'npm start'], ['worker', 0, 'node worker.js']]);
  assert.equal(remoteRef(repo, 'refs/heads/main'), git(repo, 'rev-parse', 'HEAD'));
  // The pushed code can be fetched back from the same URL.
  const clone = path.join(work, 'clone');
  git(work, 'clone', '-q', remoteUrl(), clone);
  assert.equal(git(clone, 'rev-parse', 'HEAD'), git(repo, 'rev-parse', 'HEAD'));
});

test('a one-line change rebuilds from cache and releases v2 with zero downtime', async () => {
  const repo = path.join(work, 'node-app');
  const file = path.join(repo, 'server.js');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("VERSION = 'one'", "VERSION = 'two'"));
  git(repo, 'commit', '-qam', 'two');
  let failures = 0;
  let stop = false;
  const traffic = (async () => {
    while (!stop) {
      const res = await get().catch(() => ({ status: 0, body: '' }));
      if (res.status !== 200) failures++;
    }
  })();
  const result = await push(repo, 'paas', 'main');
  stop = true;
  await traffic;
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /Using cache/);
  assert.match((await get()).body, /node-app two on v2/);
  assert.equal(failures, 0, 'no request failed during the push');
  console.log(`cached rebuild push-to-live: ${result.tookMs} ms`);
});

test('a failing build rejects the push, keeps the ref and the running release', async () => {
  const repo = path.join(work, 'node-app');
  const before = remoteRef(repo, 'refs/heads/main');
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
  pkg.scripts.build = 'node -e "console.error(\'the build broke\'); process.exit(2)"';
  fs.writeFileSync(path.join(repo, 'package.json'), JSON.stringify(pkg, null, 2));
  git(repo, 'commit', '-qam', 'broken build');
  const result = await push(repo, 'paas', 'main');
  assert.notEqual(result.code, 0);
  assert.match(result.output, /the build broke/);
  assert.match(result.output, /remote: !\s+Push rejected: /);
  assert.match(result.output, /pre-receive hook declined/);
  assert.equal(remoteRef(repo, 'refs/heads/main'), before);
  assert.match((await get()).body, /node-app two on v2/);
  const [build] = await berth.ok('GET', `/apps/${app}/builds`);
  assert.equal(build.status, 'failed');
  git(repo, 'reset', '-q', '--hard', 'HEAD~1');
});

test('a failing release: command rejects the push before anything goes live', async () => {
  const repo = path.join(work, 'node-app');
  const procfile = path.join(repo, 'Procfile');
  const original = fs.readFileSync(procfile, 'utf8');
  fs.writeFileSync(procfile, original.replace(/^release: .*$/m, 'release: echo "migration 42 failed" >&2; exit 3'));
  git(repo, 'commit', '-qam', 'failing migration');
  const before = remoteRef(repo, 'refs/heads/main');
  const result = await push(repo, 'paas', 'main');
  assert.notEqual(result.code, 0);
  assert.match(result.output, /release: migration 42 failed/);
  assert.match(result.output, /Push rejected: Release v\d+ failed: the release command exited with code 3/);
  assert.equal(remoteRef(repo, 'refs/heads/main'), before);
  assert.match((await get()).body, /node-app two on v2/);
  const [release] = await berth.ok('GET', `/apps/${app}/releases`);
  assert.equal(release.status, 'failed');
  git(repo, 'reset', '-q', '--hard', 'HEAD~1');
});

test('other branches are stored, not deployed; dev:main deploys; the deploy branch is configurable', async () => {
  const repo = path.join(work, 'node-app');
  git(repo, 'checkout', '-q', '-b', 'dev');
  const file = path.join(repo, 'server.js');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("VERSION = 'two'", "VERSION = 'dev'"));
  git(repo, 'commit', '-qam', 'dev');
  const stored = await push(repo, 'paas', 'dev');
  assert.equal(stored.code, 0, stored.output);
  assert.match(stored.output, /remote: Stored branch dev; only pushes to main deploy\./);
  assert.match((await get()).body, /node-app two/);
  const deployed = await push(repo, 'paas', 'dev:main');
  assert.equal(deployed.code, 0, deployed.output);
  assert.match((await get()).body, /node-app dev on v4/);

  await berth.ok('PATCH', `/apps/${app}`, { deployBranch: 'production' });
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("VERSION = 'dev'", "VERSION = 'prod'"));
  git(repo, 'commit', '-qam', 'prod');
  const notDeployed = await push(repo, 'paas', 'dev:main');
  assert.equal(notDeployed.code, 0, notDeployed.output);
  assert.match(notDeployed.output, /Stored branch main; only pushes to production deploy\./);
  assert.match((await get()).body, /node-app dev on v4/);
  const production = await push(repo, 'paas', 'dev:production');
  assert.equal(production.code, 0, production.output);
  assert.match(production.output, /v5 deployed/);
  assert.match((await get()).body, /node-app prod on v5/);
  await berth.ok('PATCH', `/apps/${app}`, { deployBranch: 'main' });
});

test('old images beyond the kept releases are removed from the registry', async () => {
  const tags = await fetch(`http://${registry.address}/v2/${app}/tags/list`).then((r) => r.json());
  assert.deepEqual([...tags.tags ?? []].sort(), ['v4', 'v5']);
});

test('two pushes to one app at once: the second waits its turn, releases never interleave', async () => {
  const a = path.join(work, 'clone-a');
  const b = path.join(work, 'clone-b');
  for (const [dir, version] of [[a, 'a'], [b, 'b']]) {
    git(work, 'clone', '-q', '-o', 'paas', remoteUrl(), dir);
    const file = path.join(dir, 'server.js');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/VERSION = '\w+'/, `VERSION = '${version}'`));
    if (version === 'a') slowBuild(dir, 6);
    git(dir, 'commit', '-qam', version);
  }
  const releasesBefore = (await berth.ok('GET', `/apps/${app}/releases`)).length;
  const first = push(a, 'paas', 'main');
  await eventually('the first build to start', async () =>
    (await berth.ok('GET', `/apps/${app}/builds`))[0]?.status === 'building');
  const second = await push(b, 'paas', 'main');
  const firstResult = await first;
  assert.equal(firstResult.code, 0, firstResult.output);
  // The second push waited; by then main had moved, and git would refuse its ref update, so Berth
  // refuses it up front with a clear message instead of deploying code the branch will not hold.
  assert.match(second.output, /remote: Waiting for the .* of push-\w+ to finish/);
  assert.notEqual(second.code, 0);
  assert.match(second.output, /main moved to [0-9a-f]{7} while this push waited: fetch, merge and push again/);
  const releases = await berth.ok('GET', `/apps/${app}/releases`);
  assert.equal(releases.length, releasesBefore + 1, 'exactly one release came of the two pushes');
  assert.match((await get()).body, /node-app a on v6/);
  // b starts again from what main holds now, as a user would after fetching.
  git(b, 'fetch', '-q', 'paas');
  git(b, 'reset', '-q', '--hard', 'paas/main');
  const bServer = path.join(b, 'server.js');
  fs.writeFileSync(bServer, fs.readFileSync(bServer, 'utf8').replace(/VERSION = '\w+'/, "VERSION = 'b'"));
  git(b, 'commit', '-qam', 'b again');
  const retried = await push(b, 'paas', 'main');
  assert.equal(retried.code, 0, retried.output);
  assert.match((await get()).body, /node-app b on v7/);
});

test('a server killed mid-build: the push fails, the build is marked failed, the next push works', async () => {
  const repo = path.join(work, 'clone-b');
  slowBuild(repo, 20);
  git(repo, 'commit', '-qam', 'again');
  const pushing = push(repo, 'paas', 'main');
  await eventually('the build to start', async () =>
    (await berth.ok('GET', `/apps/${app}/builds`))[0]?.status === 'building');
  await berth.kill('SIGKILL');
  const result = await pushing;
  assert.notEqual(result.code, 0);
  await berth.start();
  git(repo, 'remote', 'set-url', 'paas', remoteUrl());
  const [build] = await berth.ok('GET', `/apps/${app}/builds`);
  assert.equal(build.status, 'failed');
  assert.match(build.error, /interrupted/);
  assert.match((await get()).body, /node-app b on v7/);
  const retry = await push(repo, 'paas', 'main');
  assert.equal(retry.code, 0, retry.output);
  assert.match((await get()).body, /node-app b on v8/);
});

test('a Dockerfile app listening on its one EXPOSEd port (not PORT) is routed to that port', async () => {
  const name = uniqueName('dock');
  await berth.ok('POST', '/apps', { name });
  try {
    const repo = makeRepo('dockerfile-fixed-port');
    git(repo, 'remote', 'set-url', 'paas', remoteUrl(berth.token, name));
    const result = await push(repo, 'paas', 'main');
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /Dockerfile app built/);
    assert.match((await viaRouter(caddy.httpPort, `${name}.localhost`)).body, /fixed port 8080 \(PORT=8080\)/);
  } finally {
    await berth.api('DELETE', `/apps/${name}`, { confirm: name });
  }
});

test('a static site deploys without a Dockerfile; auth and unknown apps are refused readably', async () => {
  const site = uniqueName('site');
  await berth.ok('POST', '/apps', { name: site });
  try {
    const repo = makeRepo('static-site');
    git(repo, 'remote', 'set-url', 'paas', remoteUrl(berth.token, site));
    const result = await push(repo, 'paas', 'main');
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /Static site built/);
    assert.match((await viaRouter(caddy.httpPort, `${site}.localhost`)).body, /static site served by Berth/);
    assert.match((await viaRouter(caddy.httpPort, `${site}.localhost`, '/css/site.css')).body, /teal/);

    git(repo, 'remote', 'set-url', 'paas', remoteUrl('berth_wrong', site));
    const denied = await push(repo, 'paas', 'main');
    assert.notEqual(denied.code, 0);
    assert.match(denied.output, /Authentication failed|401/);
    git(repo, 'remote', 'set-url', 'paas', remoteUrl(berth.token, 'no-such-app'));
    const unknown = await push(repo, 'paas', 'main');
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.output, /App "no-such-app" not found/);
  } finally {
    await berth.api('DELETE', `/apps/${site}`, { confirm: site });
  }
});
