// Issue 16, "the first day with Berth", items 9-11: a re-created app's logs start empty; Python and Go versions
// are read as their tools read them and checked against the stack's before building; a Go app without go.mod
// builds as Go. One server, Caddy and registry for the whole file; real git pushes, builds and releases.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { ScratchRepos } from './support/scratch-repos.ts';
import { startBerth, eventually, uniqueName, viaRouter, TEST_IMAGE, type BerthServer } from './support/berth.ts';
import { keyForLine, notBefore } from '../src/logstore/app-keys.ts';
import { migrateNameDirs, nameDirAction } from '../src/logstore/name-dirs.ts';
import {
  parseVersion, readGoDirective, readPythonVersionFile, readRuntimeTxt, versionVerdict,
} from '../src/builder/language-versions.ts';
import { versionFromEnv, versionFromProbe } from '../src/builder/stack-version.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/push');

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work: string;
let repos: ScratchRepos;
const apps = new Set<string>();

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, {
    BERTH_REGISTRY: registry.address, BERTH_STACK_PYTHON: 'berth/python:3', BERTH_STACK_GO: 'berth/go:1', BERTH_STACK_GENERIC: 'berth/debian:bookworm',
  });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-first-day-9-11-'));
  repos = new ScratchRepos(work, FIXTURES);
});

after(async () => {
  for (const app of apps) await berth?.api('DELETE', `/apps/${app}`, { confirm: app }).catch(() => {});
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Creates the app; its id, as the server's database has it (the API shows names only). */
async function createApp(name: string): Promise<{ id: number }> {
  apps.add(name);
  await berth.ok('POST', '/apps', { name });
  const db = new DatabaseSync(path.join(berth.dataDir, 'berth.db'), { readOnly: true });
  try {
    return db.prepare('SELECT id FROM apps WHERE name = ?').get(name) as { id: number };
  } finally {
    db.close();
  }
}

async function destroyApp(name: string): Promise<void> {
  await berth.ok('DELETE', `/apps/${name}`, { confirm: name });
  apps.delete(name);
}

/** The app's stored lines of the past hour (the router's included) as the API gives them. */
async function storedLines(app: string): Promise<string[]> {
  const res = await berth.api('GET', `/apps/${app}/logs?${new URLSearchParams({ since: '1h' })}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  return text.trim() ? text.trim().split('\n').map((l) => (JSON.parse(l) as { line: string }).line) : [];
}

const stored = (app: string, needle: string) => eventually(`"${needle}" in ${app}'s stored log`, async () => {
  const lines = await storedLines(app);
  return lines.some((l) => l.includes(needle)) && lines;
});

test('9, units: lines are keyed by app id, not older than the app; name-keyed directories are renamed or removed', () => {
  const owner = { id: 7, createdAt: '2026-12-03T09:00:00.000Z' };
  assert.equal(keyForLine(owner, null), '7');
  assert.equal(keyForLine(owner, Date.parse(owner.createdAt)), '7');
  assert.equal(keyForLine(owner, Date.parse(owner.createdAt) - 1), null, 'older than the app: an earlier namesake\'s line');
  assert.equal(keyForLine(undefined, Date.now()), null, 'no app of that name now');
  assert.equal(notBefore({ id: 1, createdAt: 'garbage' }), 0);

  assert.equal(nameDirAction('shop', { id: 3 }, () => false), 'rename');
  assert.equal(nameDirAction('shop', { id: 3 }, () => true), 'remove', 'its id directory exists: the name one is a leftover');
  assert.equal(nameDirAction('gone', undefined, () => false), 'remove');
  for (const other of ['12', '.router', 'Shop', 'x']) assert.equal(nameDirAction(other, undefined, () => false), null, other);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-name-dirs-'));
  try {
    for (const name of ['shop', 'gone', '12', '.router']) fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, 'shop', 'seg.log'), 'x');
    const known: Record<string, { id: number; createdAt: string }> = { shop: { id: 5, createdAt: owner.createdAt } };
    assert.deepEqual(migrateNameDirs(dir, { find: (name) => known[name] }), { renamed: ['shop'], removed: ['gone'] });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['.router', '12', '5']);
    assert.equal(fs.readFileSync(path.join(dir, '5', 'seg.log'), 'utf8'), 'x');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('9: a destroyed app\'s router lines never show up in a new app of the same name', async () => {
  const app = uniqueName('reborn');
  const first = await createApp(app);
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`, '/old-app-request')).status, 200);
  await stored(app, 'path="/old-app-request"'); // the router's line
  const oldDir = path.join(berth.dataDir, 'logs', String(first.id));
  assert.ok(fs.existsSync(oldDir), 'the store keeps the app under its id');

  await destroyApp(app);
  // Right after the destroy: Caddy answers 404 for the host, and the router's host map is still the old one
  // for a few seconds. Such lines used to re-create the name's directory, for the next app of the name to inherit.
  for (let i = 0; i < 5; i++) await viaRouter(caddy.httpPort, `${app}.localhost`, `/after-destroy-${i}`);
  assert.ok(!fs.existsSync(oldDir), 'destroying the app removed its stored log');

  const second = await createApp(app);
  assert.notEqual(second.id, first.id);
  await viaRouter(caddy.httpPort, `${app}.localhost`, '/new-app-request');
  const lines = await stored(app, 'path="/new-app-request" host=');
  const inherited = lines.filter((l) => /old-app-request|after-destroy/.test(l));
  assert.deepEqual(inherited, [], `the new app's log holds the old app's lines:\n${lines.join('\n')}`);
  assert.ok(!fs.existsSync(oldDir), 'nothing re-created the old app\'s directory');
  assert.ok(!fs.existsSync(path.join(berth.dataDir, 'logs', app)), 'nothing is stored under the name');
});

test('9: a data directory from before (logs under app names) keeps working after the upgrade', async () => {
  const app = uniqueName('legacy');
  const { id } = await createApp(app);
  await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
  await viaRouter(caddy.httpPort, `${app}.localhost`, '/before-upgrade');
  await stored(app, 'path="/before-upgrade"');
  await berth.kill('SIGTERM');
  // What an older Berth left: the app's log under its name, and the log of an app destroyed since.
  const logs = path.join(berth.dataDir, 'logs');
  fs.renameSync(path.join(logs, String(id)), path.join(logs, app));
  fs.mkdirSync(path.join(logs, 'destroyed-long-ago'));
  await berth.start();
  assert.match(berth.output, /log store: keyed by app id now; 1 app log\(s\) moved, 1 of destroyed apps removed/);
  const lines = await stored(app, 'path="/before-upgrade"');
  assert.ok(lines.some((l) => l.includes('request GET /before-upgrade')), 'the app\'s own line too');
  assert.deepEqual(fs.readdirSync(logs).filter((d) => /^[a-z]/.test(d)), [], 'no name-keyed directory is left');
  assert.ok(fs.existsSync(path.join(logs, String(id))));
});

interface PushResult { code: number; output: string }

/** A new app, a repository of the fixture (if any) with `files` over it, and its `git push paas main`. */
async function pushNewApp(prefix: string, files: Record<string, string>, fixture?: string): Promise<PushResult & { app: string }> {
  const app = uniqueName(prefix);
  await createApp(app);
  const repo = repos.create(files, fixture);
  repos.git(repo, 'branch', '-M', 'main');
  repos.git(repo, 'remote', 'add', 'paas', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`);
  return new Promise((resolve) => {
    const child = spawn('git', ['push', 'paas', 'main'], { cwd: repo, env: gitEnv() });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('close', (code) => resolve({ app, code: code ?? -1, output }));
  });
}

test('10, units: .python-version as pyenv reads it, runtime.txt, go.mod\'s go line, and what is said against the stack', () => {
  assert.equal(readPythonVersionFile('# pinned for production\n\n3.12.1\n3.11\n'), '3.12.1', 'comments and blank lines skipped; the first version wins');
  assert.equal(readPythonVersionFile('  3.11  # trailing words are not the version\n'), '3.11');
  assert.equal(readPythonVersionFile('../../evil\n3.10/envs/venv\n3.10\n'), '3.10', 'names pyenv rejects are skipped');
  assert.equal(readPythonVersionFile('#\n\n'), null);
  assert.equal(readPythonVersionFile('3.12\r\n'), '3.12');
  assert.equal(readRuntimeTxt('python-3.12.1\n'), '3.12.1');
  assert.equal(readRuntimeTxt('\n'), null);
  assert.equal(readGoDirective('module x // go 1.99\n\ngo 1.25.0 // needs iterators\n\ntoolchain go1.25.1\n'), '1.25.0');
  assert.equal(readGoDirective('module x\n'), null);
  assert.deepEqual(parseVersion('3.12'), [3, 12, 0]);
  assert.deepEqual(parseVersion('1.21rc1'), [1, 21, 0]);
  assert.deepEqual(parseVersion('3.13-dev'), [3, 13, 0]);
  assert.equal(parseVersion('pypy3.10-7.3.12'), null);
  assert.equal(parseVersion('system'), null);

  const go = versionVerdict('Go', { language: 'Go', version: '1.25.0', file: 'go.mod' }, '1.19.8', 'berth/go:1');
  assert.equal(go.error, 'this app asks for Go 1.25.0 (go.mod); the Go stack here (berth/go:1) has 1.19.8 — set BERTH_STACK_GO=golang:1.25 ' +
    'on the Berth server (or any image with Go 1.25 or newer that the engine has or can pull; README, "Newer language versions")');
  assert.equal(versionVerdict('Go', { language: 'Go', version: '1.19', file: 'go.mod' }, '1.19.8', 'berth/go:1').error, null);
  assert.equal(versionVerdict('Go', { language: 'Go', version: '1.19.9', file: 'go.mod' }, '1.19.8', 'g').error !== null, true, 'Go checks the patch too');
  const py = (version: string, stack: string | null = '3.11.2') => versionVerdict('Python', { language: 'Python', version, file: '.python-version' }, stack, 'berth/python:3');
  assert.match(py('3.12').error ?? '', /^this app asks for Python 3\.12 \(\.python-version\); the Python stack here \(berth\/python:3\) has 3\.11\.2 — set BERTH_STACK_PYTHON=python:3\.12-slim /);
  assert.deepEqual(py('3.11.9'), { line: '.python-version asks for Python 3.11.9; the app runs on Python 3.11.2 (berth/python:3, BERTH_STACK_PYTHON)', error: null },
    'the same minor: another patch runs');
  assert.equal(py('3.9').error, null, 'an older minor runs on the stack\'s');
  assert.equal(py('pypy3.10').line, '.python-version asks for "pypy3.10" (not a Python version Berth can check); the app runs on Python 3.11.2 (berth/python:3, BERTH_STACK_PYTHON)');
  assert.equal(py('3.12', null).error, null, 'an unknown stack version stops nothing');
  assert.equal(versionVerdict('Python', null, '3.11.2', 'berth/python:3').line, 'The app runs on Python 3.11.2 (berth/python:3, BERTH_STACK_PYTHON)');

  assert.equal(versionFromEnv(['PATH=/usr/bin', 'PYTHON_VERSION=3.13.1'], 'Python'), '3.13.1', 'official python images');
  assert.equal(versionFromEnv(['GOLANG_VERSION=1.25.0'], 'Go'), '1.25.0', 'official golang images');
  assert.equal(versionFromEnv(['PATH=/usr/bin'], 'Go'), null);
  assert.equal(versionFromProbe('go1.19.8\r\n', 'Go'), '1.19.8');
  assert.equal(versionFromProbe('3.11.2\n', 'Python'), '3.11.2');
  assert.equal(versionFromProbe('sh: python3: not found', 'Python'), null);
});

test('10: a .python-version with a comment line: read as pyenv does, and the push says which Python runs the app', async () => {
  const result = await pushNewApp('pyver', { '.python-version': '# the version production runs\n3.11\n' }, 'python-app');
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /remote: .*\.python-version asks for Python 3\.11; the app runs on Python 3\.11\.\d+ \(berth\/python:3, BERTH_STACK_PYTHON\)/, result.output);
  assert.doesNotMatch(result.output, /"#"/);
  assert.match((await viaRouter(caddy.httpPort, `${result.app}.localhost`)).body, /^python-app on port \d+, python 3\.11/m);
});

test('10: a newer Python or Go than the stack has: the push says which version the app asks for, which the stack has, and what to set', async () => {
  const python = await pushNewApp('pynew', { '.python-version': '3.13\n' }, 'python-app');
  assert.notEqual(python.code, 0, python.output);
  assert.match(python.output, /remote: !\s+Push rejected: this app asks for Python 3\.13 \(\.python-version\); the Python stack here \(berth\/python:3\) has 3\.11\.\d+ — set BERTH_STACK_PYTHON=python:3\.13-slim/, python.output);

  const go = await pushNewApp('gonew', { 'go.mod': 'module example.com/berth/go-app\n\ngo 1.25.0\n' }, 'go-app');
  assert.notEqual(go.code, 0, go.output);
  assert.match(go.output, /remote: !\s+Push rejected: this app asks for Go 1\.25\.0 \(go\.mod\); the Go stack here \(berth\/go:1\) has 1\.19\.\d+ — set BERTH_STACK_GO=golang:1\.25/, go.output);
  assert.doesNotMatch(go.output, /invalid go version/, 'said before Go\'s own words');
  const [build] = await berth.ok('GET', `/apps/${go.app}/builds`);
  assert.equal(build.kind, 'go');
});

test('11: a Go app without go.mod (main.go, Procfile web: bin/app) is built as Go and answers through the router', async () => {
  const main = fs.readFileSync(path.join(FIXTURES, 'go-app', 'main.go'), 'utf8').replace('"go-app on port', '"gopath-app on port');
  const result = await pushNewApp('gopath', { 'main.go': main, Procfile: 'web: bin/app\n' });
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /remote: .*Detected a Go app \(\.go files at the root, no go\.mod\)/);
  assert.match(result.output, /remote: .*No go\.mod: built as module app, made by go mod init for this build/);
  assert.match(result.output, /remote: .*The app is built with Go 1\.\d+\.\d+ \(berth\/go:1, BERTH_STACK_GO\)/);
  const page = await viaRouter(caddy.httpPort, `${result.app}.localhost`);
  assert.equal(page.status, 200);
  assert.match(page.body, /^gopath-app on port \d+, go1\.\d+/m);
  const formation = await berth.ok('GET', `/apps/${result.app}/formation`);
  assert.deepEqual(formation.map((f: any) => [f.type, f.command]), [['web', 'bin/app']]);
});
