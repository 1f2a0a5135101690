// Hole 4: a member must not run or build from another app's image (it holds that team's code and build args):
// not by its registry name, another name for the registry, its id, a local tag, a Dockerfile FROM or
// COPY --from, nor through ARGs. Destroying an app deletes its images from the registry. Real server, real
// registry, real git pushes; app B belongs to the admin, app A to the member alice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from '../support/caddy.ts';
import { startRegistry } from '../support/registry.ts';
import { gitEnv } from '../support/git-env.ts';
import { startBerth, uniqueName, viaRouter, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { imagesUsed } from '../../src/builder/dockerfile-images.ts';
import { buildBaseVerdict, deployVerdict, isImageId, parseImageRef } from '../../src/security/image-policy.ts';

const HELLO = path.resolve(import.meta.dirname, '../fixtures/hello');
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let alice = '';
let work: string;
const appA = uniqueName('img-a');
const appB = uniqueName('img-b');
const leakTag = `berth-test/leak-${process.pid}:latest`;
let imageB = '';

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address, BERTH_IMAGE_ALLOW: 'berth-test/*' });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-images-'));
  alice = (await berth.ok('POST', '/users', { name: 'alice', role: 'member' })).token;
  assert.equal((await berth.api('POST', '/apps', { name: appA }, alice)).status, 201);
  await berth.ok('POST', '/apps', { name: appB });
  // B's image holds B's secret, built and pushed to the registry by a push of the admin's.
  const repo = makeRepo('b', { 'secret.txt': 'B-SECRET\n' });
  const pushed = await push(repo, berth.token, appB);
  assert.equal(pushed.code, 0, pushed.output);
  imageB = `${registry.address}/${appB}:v1`;
});

after(async () => {
  for (const app of [appA, appB]) await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  try { docker(['rmi', leakTag]); } catch { /* not made */ }
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: gitEnv() }).trim();
}

/** A repository with the hello fixture and `files` over it. */
function makeRepo(name: string, files: Record<string, string>): string {
  const dir = path.join(work, name);
  fs.cpSync(HELLO, dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', name);
  return dir;
}

function push(cwd: string, token: string, app: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('git', ['push', `http://x:${token}@127.0.0.1:${berth.port}/git/${app}.git`, 'main'], { cwd, env: gitEnv() });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => child.kill(), 180_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, output }); });
  });
}

const releasesOf = async (app: string) => (await berth.ok<{ version: number }[]>('GET', `/apps/${app}/releases`)).map((r) => r.version);

/** B is exactly as before: one release, its instance serving it. */
async function assertBUntouched(): Promise<void> {
  assert.deepEqual(await releasesOf(appB), [1]);
  assert.match((await viaRouter(caddy.httpPort, `${appB}.localhost`)).body, /hello from v1 web\.1/);
}

test('a member cannot deploy another app\'s registry image, under any name for the registry', async () => {
  const port = registry.address.split(':')[1];
  for (const ref of [imageB, `localhost:${port}/${appB}:v1`, `127.0.0.2:${port}/${appB}:v1`, `${registry.address}/${appB}@${docker(['inspect', '--format', '{{index .RepoDigests 0}}', imageB]).split('@')[1]}`]) {
    const res = await berth.api('POST', `/apps/${appA}/deploys`, { image: ref }, alice);
    assert.equal(res.status, 403, `${ref}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, 'image_forbidden');
  }
  assert.deepEqual(await releasesOf(appA), []);
  await assertBUntouched();
});

test('a member cannot deploy an image id, nor another app\'s image by a local tag an admin allowed', async () => {
  const id = docker(['inspect', '--format', '{{.Id}}', imageB]);
  for (const ref of [id, id.slice('sha256:'.length, 'sha256:'.length + 12)]) {
    const res = await berth.api('POST', `/apps/${appA}/deploys`, { image: ref }, alice);
    assert.equal(res.status, 403, `${ref}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.message, /image id/);
  }
  docker(['tag', imageB, leakTag]); // matches BERTH_IMAGE_ALLOW, but Berth built it for B
  const leaked = await berth.api('POST', `/apps/${appA}/deploys`, { image: leakTag }, alice);
  assert.equal(leaked.status, 403, JSON.stringify(leaked.body));
  assert.match(leaked.body.message, /built for another app/);
  const other = await berth.api('POST', `/apps/${appA}/deploys`, { image: 'berth/debian:bookworm' }, alice);
  assert.equal(other.status, 403, 'not in BERTH_IMAGE_ALLOW');
  assert.match(other.body.message, /BERTH_IMAGE_ALLOW\): berth-test\/\*/);
  assert.deepEqual(await releasesOf(appA), []);
  await assertBUntouched();
  // What is allowed still deploys, for the member; an admin may deploy anything.
  assert.equal((await berth.api('POST', `/apps/${appA}/deploys`, { image: TEST_IMAGE }, alice)).status, 201);
  assert.equal((await berth.api('POST', `/apps/${appA}/deploys`, { image: id })).status, 201);
  assert.deepEqual(await releasesOf(appA), [2, 1]);
});

test('a push whose Dockerfile starts from or copies out of another app\'s image is rejected before the build', async () => {
  const attacks: Record<string, string> = {
    from: `FROM ${imageB}\nCMD ["node", "/app/server.js"]\n`,
    'from-local-name': `FROM localhost:${registry.address.split(':')[1]}/${appB}:v1\n`,
    'from-id': `FROM ${docker(['inspect', '--format', '{{.Id}}', imageB])}\n`,
    'from-tag': `# a local tag of B's image\nfrom --platform=linux/amd64 ${leakTag} as base\n`,
    arg: `ARG BASE=${imageB}\nFROM \${BASE}\n`,
    'copy-from': `FROM berth/node:24 AS build\nFROM build\nCOPY \\\n  --from=${imageB} \\\n  /app/secret.txt /leak.txt\n`,
  };
  for (const [name, dockerfile] of Object.entries(attacks)) {
    const result = await push(makeRepo(`attack-${name}`, { Dockerfile: dockerfile }), alice, appA);
    assert.notEqual(result.code, 0, `${name} was accepted:\n${result.output}`);
    assert.match(result.output, /Push rejected: Dockerfile line \d+ \((FROM|COPY --from) [^)]+\): .*(another app|image id)/, `${name}:\n${result.output}`);
    assert.doesNotMatch(result.output, /Step 1\//, `${name}: refused before the build started`);
  }
  assert.deepEqual(await releasesOf(appA), [2, 1]);
  await assertBUntouched();
});

test('a build arg from config cannot smuggle another app\'s image into FROM; the build\'s own stages still work', async () => {
  await berth.ok('PATCH', `/apps/${appA}/config`, { BERTH_BUILD_ARGS: 'BASE', BASE: imageB }, [200, 201]);
  const smuggled = await push(makeRepo('attack-build-arg', { Dockerfile: 'ARG BASE=berth/node:24\nFROM $BASE\n' }), alice, appA);
  assert.notEqual(smuggled.code, 0, smuggled.output);
  assert.match(smuggled.output, new RegExp(`FROM ${imageB.replace(/[.]/g, '\\.')}\\): .*another app`));
  await berth.ok('PATCH', `/apps/${appA}/config`, { BASE: 'berth/node:24' }, [200, 201]);
  const staged = 'ARG BASE=berth/node:24\nFROM ${BASE} AS Build\nCOPY server.js /app/server.js\nFROM build\nCOPY --from=0 /app/server.js /app/server.js\nCMD ["node", "/app/server.js"]\n';
  const ok = await push(makeRepo('own-stages', { Dockerfile: staged }), alice, appA);
  assert.equal(ok.code, 0, ok.output);
  await assertBUntouched();
});

test('destroying an app deletes its images from the registry and the engine', async () => {
  const tags = async () => fetch(`http://${registry.address}/v2/${appB}/tags/list`)
    .then(async (res) => (res.status === 404 ? [] : ((await res.json()) as { tags: string[] | null }).tags ?? []));
  assert.deepEqual(await tags(), ['v1']);
  await berth.ok('DELETE', `/apps/${appB}`, { confirm: appB });
  assert.deepEqual(await tags(), []);
  const manifest = await fetch(`http://${registry.address}/v2/${appB}/manifests/v1`, { method: 'HEAD' });
  assert.equal(manifest.status, 404, 'v1 cannot be pulled any more');
  assert.equal(docker(['images', '-q', `${registry.address}/${appB}`]), '', 'no local tag left');
});

test('the Dockerfile reader finds every image, as the engine would read it (pure)', () => {
  const refs = (text: string, args: Record<string, string> = {}) => imagesUsed(text, args).map((u) => `${u.instruction} ${u.ref}`);
  assert.deepEqual(refs('# escape=`\nFROM  --platform=$BUILDPLATFORM  node:24 `\n  AS builder\nfrom builder\nCOPY --from=builder /a /b\n'), ['FROM node:24']);
  assert.deepEqual(refs('FROM a:1\n# comment\nFrOm \\\n# inside\n  b:2 AS x\nCOPY --from=0 /a /b\nCOPY --from=X /a /b\nCOPY --from=c:3 /a /b\n'), ['FROM a:1', 'FROM b:2', 'COPY --from c:3']);
  assert.deepEqual(refs('ARG V=20\nARG R\nFROM node:${V}\nFROM ${R:-debian}:$V\n', { V: '24' }), ['FROM node:24', 'FROM debian:24']);
  assert.deepEqual(refs('FROM ${UNDECLARED}alpine\n', { UNDECLARED: 'evil/' }), ['FROM alpine', 'FROM evil/alpine'], 'both readings are checked');
  assert.deepEqual(refs('FROM a AS b\nRUN --mount=type=bind,from=img:1,target=/x true\nADD --from=b /a /b\n'), ['FROM a', 'RUN --mount img:1']);
  assert.deepEqual(refs('FROM a AS 127.0.0.1:5000/x:v1\nFROM 127.0.0.1:5000/x:v1\n'), ['FROM a', 'FROM 127.0.0.1:5000/x:v1'], 'an invalid stage name shadows nothing');
});

test('the image policy (pure)', () => {
  const settings = { registries: ['127.0.0.1:5000', '10.0.0.5:5000'], allow: ['berth-test/*', 'docker.io/library/nginx:*'] };
  assert.ok(deployVerdict('127.0.0.1:5000/shop:v3', 'shop', settings).ok);
  assert.ok(deployVerdict('127.0.0.1:5000/shop@sha256:' + 'a'.repeat(64), 'shop', settings).ok);
  assert.ok(deployVerdict('berth-test/hello:latest', 'shop', settings).ok);
  assert.ok(deployVerdict('docker.io/library/nginx:1.27', 'shop', settings).ok);
  for (const ref of ['127.0.0.1:5000/other:v3', '10.0.0.5:5000/other:v1', 'localhost:5000/other:v1', '[::1]:5000/other:v1',
    '127.0.0.1:5000/shop/../other:v1', 'sha256:' + 'b'.repeat(64), 'b'.repeat(12), 'nginx:1.27', 'Berth-Test/x']) {
    assert.equal(deployVerdict(ref, 'shop', settings).ok, false, ref);
  }
  assert.ok(buildBaseVerdict('node:24', 'shop', settings).ok);
  assert.ok(buildBaseVerdict('127.0.0.1:5000/shop:v2', 'shop', settings).ok);
  assert.equal(buildBaseVerdict('127.0.0.1:5000/other:v2', 'shop', settings).ok, false);
  assert.equal(buildBaseVerdict('deadbeef', 'shop', settings).ok, false);
  assert.ok(isImageId('SHA256:abc') && !isImageId('node'));
  assert.deepEqual(parseImageRef('localhost:5000/a/b:v1@sha256:' + 'c'.repeat(64)), { registry: 'localhost:5000', repository: 'a/b', tag: 'v1', digest: 'sha256:' + 'c'.repeat(64) });
  assert.equal(parseImageRef('x'.repeat(600)), null);
});
