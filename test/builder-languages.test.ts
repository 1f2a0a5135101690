// Python and Go apps without a Dockerfile: detection and planning (no engine), then real builds of
// the fixtures under test/fixtures/push on the offline stacks (berth/python:3, berth/go:1, run on
// berth/debian:bookworm), each run and asked for its page. The apps use only the standard library.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { freePort } from './support/ports.ts';
import { DockerBuilder, BuildError, type BuildResult } from '../src/builder/index.ts';
import { detect } from '../src/builder/detect.ts';
import { planPythonApp, requirementsReadLocalFiles } from '../src/builder/python-app.ts';
import { binaryName, moduleName, planGoApp, procfileBinary } from '../src/builder/go-app.ts';
import type { SourceTree } from '../src/builder/source.ts';
import { ScratchRepos } from './support/scratch-repos.ts';

const SOCKET = process.env.BERTH_DOCKER_SOCKET ?? '/var/run/docker.sock';
const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'push');
const STACKS = { node: 'berth/node:24', python: 'berth/python:3', go: 'berth/go:1', static: 'berth/node:24', generic: 'berth/debian:bookworm' };
const IMAGE = `berth-test-languages-${process.pid}`;
const START_TIMEOUT_MS = 20_000;

let work: string;
let builder: DockerBuilder;
let extraCa = '';
let repos: ScratchRepos;
const tags: string[] = [];

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

// ---- builds, running images (scratch repositories: test/support/scratch-repos.ts) ---------------

interface Built { result: BuildResult; tag: string; lines: string[]; ms: number }

async function build(repo: string, name: string): Promise<Built> {
  const tag = `${IMAGE}/${name}:${tags.length + 1}`;
  tags.push(tag);
  const lines: string[] = [];
  const started = Date.now();
  const result = await builder.build({
    app: name, source: spawn('git', ['-C', repo, 'archive', '--format=tar', 'HEAD']).stdout, tag, buildArgs: { GREETING: 'hi' },
    dockerfilePath: 'Dockerfile', progress: (line) => lines.push(line),
  });
  return { result, tag, lines, ms: Date.now() - started };
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timed out'))).on('error', reject).end();
  });
}

/** Runs the image like the deployer would (PORT=5000) and returns its first answer; always removes the container. */
async function firstAnswer(tag: string): Promise<string> {
  const port = await freePort();
  const id = docker('run', '-d', '--init', '-p', `127.0.0.1:${port}:5000`, '-e', 'PORT=5000', tag);
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        return await get(port);
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${tag} did not answer within ${START_TIMEOUT_MS} ms: ${(err as Error).message}\n${docker('logs', id)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    docker('rm', '-f', id);
  }
}

const stepIndex = (lines: string[], pattern: RegExp) => lines.findIndex((line) => /^Step \d+\/\d+ : /.test(line) && pattern.test(line));
const cachedStep = (lines: string[], pattern: RegExp) => {
  const at = stepIndex(lines, pattern);
  return at !== -1 && / ---> Using cache/.test(lines[at + 1] ?? '');
};

/** A source tree from a file list, for the parts of the builder that only read it. */
function fakeTree(files: Record<string, string>): SourceTree {
  const paths = Object.keys(files);
  const dirs = new Set(paths.flatMap((p) => p.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
  return {
    has: (p) => p in files || dirs.has(p),
    list: (dir) => [...new Set([...paths, ...dirs].filter((p) => dir === '' ? true : p.startsWith(`${dir}/`))
      .map((p) => (dir === '' ? p : p.slice(dir.length + 1)).split('/')[0]!))].sort(),
    readText: async (p) => files[p] ?? null,
    context: () => Readable.from([]),
    dispose: async () => {},
  };
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-languages-test-'));
  repos = new ScratchRepos(work, FIXTURES);
  // The intercepting proxy's CA, as the server would configure it: pip and go must trust it.
  const caDir = '/usr/local/share/ca-certificates';
  const cas = fs.existsSync(caDir) ? fs.readdirSync(caDir).filter((name) => name.endsWith('.crt')) : [];
  extraCa = cas.map((name) => fs.readFileSync(path.join(caDir, name), 'utf8')).join('\n');
  const caFile = path.join(work, 'extra-ca.pem');
  fs.writeFileSync(caFile, extraCa);
  builder = new DockerBuilder({ socketPath: SOCKET, stacks: STACKS, extraCaFile: cas.length > 0 ? caFile : null });
});

after(() => {
  for (const tag of tags) {
    try {
      docker('rmi', tag);
    } catch {
      // a build that failed left no tag
    }
  }
  fs.rmSync(work, { recursive: true, force: true });
});

// ---- detection and planning (no engine involved) ------------------------------------------------

test('detection order: Dockerfile, package.json, Python, Go, index.html, Procfile', async () => {
  const kind = async (files: Record<string, string>) => (await detect(fakeTree(files), 'Dockerfile')).kind;
  assert.equal(await kind({ 'Dockerfile': '', 'requirements.txt': '', 'go.mod': '' }), 'dockerfile');
  assert.equal(await kind({ 'package.json': '{}', 'requirements.txt': '' }), 'node');
  assert.equal(await kind({ 'requirements.txt': '', 'go.mod': '', 'index.html': '' }), 'python');
  assert.equal(await kind({ 'pyproject.toml': '[project]\nname = "x"\n', 'index.html': '' }), 'python');
  assert.equal(await kind({ 'pyproject.toml': '[tool.poetry]\nname = "x"\n' }), 'python');
  // A pyproject.toml that only configures tools describes nothing pip could install.
  assert.equal(await kind({ 'pyproject.toml': '[tool.black]\nline-length = 100\n', 'index.html': '' }), 'static');
  assert.equal(await kind({ 'go.mod': 'module x\n', 'index.html': '' }), 'go');
  // GOPATH style: no go.mod, the main package at the root.
  assert.equal(await kind({ 'main.go': 'package main\n', 'Procfile': 'web: bin/app\n', 'index.html': '' }), 'go');
  assert.equal(await kind({ 'main_test.go': '', 'Procfile': 'web: ./run\n' }), 'procfile', 'tests alone are no app');
  assert.equal(await kind({ 'Procfile': 'web: ./run\n', 'runtime.txt': 'python-3.12' }), 'procfile');
  await assert.rejects(detect(fakeTree({ 'README.md': '' }), 'Dockerfile'), (err: Error) => {
    assert.ok(err instanceof BuildError);
    for (const looked of ['requirements.txt', 'pyproject.toml', 'go.mod']) assert.ok(err.message.includes(looked), `${looked} in: ${err.message}`);
    return true;
  });
});

test('Python plan: pip from requirements.txt or the project, when the source goes first, the default command', async () => {
  const plain = await planPythonApp(fakeTree({ 'requirements.txt': 'flask==3.0 # web\n', 'main.py': '', 'runtime.txt': 'python-3.12.1\n' }));
  assert.equal(plain.installCommand, 'python3 -m venv /app/.venv && /app/.venv/bin/pip install -r requirements.txt');
  assert.deepEqual(plain.manifestFiles, ['requirements.txt']);
  assert.equal(plain.installNeedsSource, false);
  assert.deepEqual(plain.startCommand, ['python', 'main.py']);
  assert.deepEqual(plain.asked, { language: 'Python', version: '3.12.1', file: 'runtime.txt' });

  const project = await planPythonApp(fakeTree({ 'pyproject.toml': '[project] # the app\nname = "x"\n', 'app.py': '', 'main.py': '', '.python-version': '3.12\n' }));
  assert.equal(project.installCommand, 'python3 -m venv /app/.venv && /app/.venv/bin/pip install .');
  assert.equal(project.installNeedsSource, true, 'pip install . needs the whole project');
  assert.deepEqual(project.startCommand, ['python', 'app.py']);
  assert.deepEqual(project.asked, { language: 'Python', version: '3.12', file: '.python-version' });

  assert.equal((await planPythonApp(fakeTree({ 'requirements.txt': '' }))).startCommand, null);
  for (const local of ['-r base.txt', '--requirement=base.txt', '-e .', './libs/mylib', 'mylib @ file:///app/libs/mylib', '-cconstraints.txt']) {
    assert.equal(requirementsReadLocalFiles(`requests\n${local}\n`), true, local);
  }
  assert.equal(requirementsReadLocalFiles('# -r commented.txt\nrequests>=2 ; python_version > "3"\n--index-url https://pypi.example/simple\n'), false);
});

test('Go plan: module name, root package or cmd/, vendored modules', async () => {
  assert.equal(moduleName('// comment\nmodule "example.com/x/shop" // quoted\n\ngo 1.22\n'), 'example.com/x/shop');
  assert.throws(() => moduleName('go 1.22\n'), /no module directive/);
  assert.equal(binaryName('example.com/shop/v2'), 'shop');
  assert.equal(binaryName('shop'), 'shop');

  const root = await planGoApp(fakeTree({ 'go.mod': 'module example.com/shop\n', 'go.sum': '', 'main.go': '', 'main_test.go': '' }));
  assert.equal(root.buildCommand, 'go build -trimpath -ldflags="-s -w" -o /app/bin/shop .');
  assert.deepEqual(root.manifestFiles, ['go.mod', 'go.sum']);
  assert.deepEqual(root.startCommand, ['/app/bin/shop']);
  assert.equal(root.vendored, false);

  const cmds = await planGoApp(fakeTree({ 'go.mod': 'module example.com/shop\n', 'cmd/worker/main.go': '', 'cmd/api/main.go': '', 'vendor/modules.txt': '' }));
  assert.equal(cmds.buildCommand, 'go build -trimpath -ldflags="-s -w" -o /app/bin/ ./...');
  assert.equal(cmds.startCommand, null, 'two commands, neither named after the module: the Procfile decides');
  assert.equal(cmds.vendored, true);
  const named = await planGoApp(fakeTree({ 'go.mod': 'module example.com/shop\n', 'cmd/worker/main.go': '', 'cmd/shop/main.go': '' }));
  assert.deepEqual(named.startCommand, ['/app/bin/shop']);
  await assert.rejects(planGoApp(fakeTree({ 'go.mod': 'module example.com/shop\n', 'internal/x.go': '' })), /no Go files at the root and no cmd\//);
  assert.deepEqual(root.asked, null, 'no go line');
  assert.deepEqual((await planGoApp(fakeTree({ 'go.mod': 'module x\ngo 1.22.3\n', 'main.go': '' }))).asked, { language: 'Go', version: '1.22.3', file: 'go.mod' });

  // No go.mod: a module is made in the build, named as the Procfile runs the binary (Heroku's bin/ layout).
  const gopath = await planGoApp(fakeTree({ 'main.go': 'package main\n', 'Procfile': 'web: bin/server -port $PORT\n' }), 'bin/server -port $PORT');
  assert.equal(gopath.buildCommand, 'go mod init server && go build -trimpath -ldflags="-s -w" -o /app/bin/server .');
  assert.deepEqual([gopath.createsModule, gopath.manifestFiles, gopath.startCommand], [true, [], ['/app/bin/server']]);
  assert.deepEqual((await planGoApp(fakeTree({ 'main.go': '' }))).startCommand, ['/app/bin/app'], 'no Procfile: bin/app');
  for (const [command, binary] of [['bin/app', 'app'], ['./bin/web --x', 'web'], ['/app/bin/api', 'api'], ['app', null], ['bin/$(rm -rf)', null], ['bin/../x', null]]) {
    assert.equal(procfileBinary(command!), binary, command!);
  }
});

test('apps that cannot say how they start are refused before building', async () => {
  await assert.rejects(build(repos.create({ 'requirements.txt': '', 'server.py': '' }), 'nostart'), /cannot tell how to start this Python app: add a Procfile with a web: line/);
  await assert.rejects(build(repos.create({ 'go.mod': 'module x\n', 'cmd/a/main.go': 'package main\n', 'cmd/b/main.go': 'package main\n' }), 'nostart'), /add a Procfile with a web: line naming one of the binaries/);
});

// ---- real builds ---------------------------------------------------------------------------------

test('python-app: a venv with the requirements, python app.py on $PORT; a source change reuses the pip layer', async () => {
  const repo = repos.create({ 'runtime.txt': 'python-3.9.18\n' }, 'python-app');
  const first = await build(repo, 'python-app');
  assert.equal(first.result.kind, 'python');
  assert.deepEqual(first.result.processes, { web: 'python app.py' });
  assert.ok(first.lines.includes('Detected a Python app (requirements.txt or pyproject.toml)'), first.lines.join('\n'));
  assert.ok(first.lines.some((line) => /^runtime\.txt asks for Python 3\.9\.18; the app runs on Python 3\.\d+\.\d+ \(berth\/python:3, BERTH_STACK_PYTHON\)$/.test(line)),
    first.lines.join('\n'));
  assert.match(await firstAnswer(first.tag), /^python-app on port 5000, python 3\.\d+, venv \/app\/\.venv$/m);
  if (extraCa !== '') {
    // pip (and the app's own HTTPS calls) trust the extra CAs through one bundle with the system's.
    const bundle = docker('run', '--rm', first.tag, 'sh', '-c', 'cat "$PIP_CERT"');
    assert.ok(bundle.includes(extraCa.trim().split('\n')[1]!), 'the extra CA is in the bundle');
    assert.ok((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 20, 'the system CAs are in the bundle too');
  }

  repos.commitChange(repo, 'app.py', (text) => text.replace('python-app on port', 'python-app v2 on port'));
  const second = await build(repo, 'python-app');
  assert.ok(cachedStep(second.lines, /pip install -r requirements\.txt/), `pip install came from the cache:\n${second.lines.join('\n')}`);
  assert.match(await firstAnswer(second.tag), /^python-app v2 on port 5000/m);
  console.log(`python-app: first build ${first.ms} ms, cached rebuild ${second.ms} ms`);
});

test('python with a Procfile: its web command wins, other types are kept', async () => {
  const repo = repos.create({ 'Procfile': 'web: python -u app.py --from-procfile\nworker: python -c "import time; time.sleep(1e9)"\n' }, 'python-app');
  const { result, tag } = await build(repo, 'python-procfile');
  assert.deepEqual(Object.keys(result.processes), ['web', 'worker']);
  assert.match(await firstAnswer(tag), /^python-app on port 5000/m);
});

test('go-app: compiled on the go stack, the binary runs on plain Debian; a source change reuses the module layer', async () => {
  const repo = repos.create({}, 'go-app');
  const first = await build(repo, 'go-app');
  assert.equal(first.result.kind, 'go');
  assert.deepEqual(first.result.processes, { web: '/app/bin/go-app' });
  assert.ok(first.lines.includes('Go module example.com/berth/go-app: modules downloaded by go mod download'), first.lines.join('\n'));
  assert.match(await firstAnswer(first.tag), /^go-app on port 5000, go1\.\d+/m);
  // The toolchain stayed in the build stage; the repository's files are beside the binary.
  const inside = docker('run', '--rm', first.tag, 'sh', '-c', 'command -v go || echo no-go; ls /app; echo "$SSL_CERT_FILE"');
  assert.deepEqual(inside.split('\n'), ['no-go', 'bin', 'go.mod', 'main.go', '/etc/ssl/certs/berth-ca-bundle.pem']);

  repos.commitChange(repo, 'main.go', (text) => text.replace('"go-app on port', '"go-app v2 on port'));
  const second = await build(repo, 'go-app');
  assert.ok(cachedStep(second.lines, /go mod download/), `go mod download came from the cache:\n${second.lines.join('\n')}`);
  assert.match(await firstAnswer(second.tag), /^go-app v2 on port 5000/m);
  console.log(`go-app: first build ${first.ms} ms, cached rebuild ${second.ms} ms`);
});

test('a Go compile error rejects the build with the compiler\'s message', async () => {
  const repo = repos.create({ 'main.go': 'package main\n\nfunc main() { undefinedThing() }\n' }, 'go-app');
  await assert.rejects(build(repo, 'go-broken'), (err: Error) => {
    assert.ok(err instanceof BuildError);
    assert.match(err.message, /undefined: undefinedThing/);
    return true;
  });
});
