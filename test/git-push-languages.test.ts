// `git push paas main` of a Python and a Go app without a Dockerfile, end to end: the real git
// client, Berth's receiver, the builder on the offline stacks, the registry and the release
// behind Caddy. The fixtures use only their standard libraries (no internet here).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { startBerth, viaRouter, uniqueName, type BerthServer } from './support/berth.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/push');
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work: string;
const apps: string[] = [];

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  // The defaults, spelled out: the server an installation runs uses these same images.
  berth = await startBerth(caddy, {
    BERTH_REGISTRY: registry.address, BERTH_STACK_PYTHON: 'berth/python:3', BERTH_STACK_GO: 'berth/go:1', BERTH_STACK_GENERIC: 'berth/debian:bookworm',
  });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-push-languages-'));
});

after(async () => {
  for (const app of apps) await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: gitEnv() }).trim();
}

/** A new app and a fresh repo holding a copy of the fixture, with the app's remote as `paas`. */
async function appWithRepo(fixture: string): Promise<{ app: string; repo: string }> {
  const app = uniqueName(fixture.replace(/-app$/, ''));
  await berth.ok('POST', '/apps', { name: app });
  apps.push(app);
  const repo = path.join(work, fixture);
  fs.cpSync(path.join(FIXTURES, fixture), repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', `${fixture} initial`);
  git(repo, 'remote', 'add', 'paas', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`);
  return { app, repo };
}

function push(cwd: string): Promise<{ code: number; output: string; tookMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn('git', ['push', 'paas', 'main'], { cwd, env: gitEnv() });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('close', (code) => resolve({ code: code ?? -1, output, tookMs: Date.now() - started }));
  });
}

test('git push of a Python app: detected, pip into a venv, released, answering through the router', async () => {
  const { app, repo } = await appWithRepo('python-app');
  const result = await push(repo);
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /remote: .*Detected a Python app/);
  assert.match(result.output, /remote: .*pip install -r requirements\.txt/);
  assert.match(result.output, new RegExp(`remote: -----> Python app built as 127\\.0\\.0\\.1:\\d+/${app}:v1`));
  assert.match(result.output, new RegExp(`remote: -----> v1 deployed to http://${app}\\.localhost:\\d+/`));
  const page = await viaRouter(caddy.httpPort, `${app}.localhost`);
  assert.equal(page.status, 200);
  assert.match(page.body, /^python-app on port \d+, python 3\.\d+, venv \/app\/\.venv$/m);
  const formation = await berth.ok('GET', `/apps/${app}/formation`);
  assert.deepEqual(formation.map((f: any) => [f.type, f.quantity, f.command]), [['web', 1, 'python app.py']]);
  console.log(`python push-to-live: ${result.tookMs} ms`);
});

test('git push of a Go app: detected, compiled, the binary released on plain Debian, answering through the router', async () => {
  const { app, repo } = await appWithRepo('go-app');
  const result = await push(repo);
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /remote: .*Detected a Go app \(go\.mod\)/);
  assert.match(result.output, /remote: .*go build/);
  assert.match(result.output, new RegExp(`remote: -----> Go app built as 127\\.0\\.0\\.1:\\d+/${app}:v1`));
  const page = await viaRouter(caddy.httpPort, `${app}.localhost`);
  assert.equal(page.status, 200);
  assert.match(page.body, /^go-app on port \d+, go1\.\d+/m);
  const formation = await berth.ok('GET', `/apps/${app}/formation`);
  assert.deepEqual(formation.map((f: any) => [f.type, f.quantity, f.command]), [['web', 1, '/app/bin/go-app']]);
  console.log(`go push-to-live: ${result.tookMs} ms`);
});
