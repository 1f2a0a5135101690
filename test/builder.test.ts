// DockerBuilder against the real Docker engine: each sample app under test/fixtures/apps is committed
// to a scratch git repository, archived (as a push would be), built, run, and asked for its page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { freePort } from './support/ports.ts';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DockerBuilder, BuildError, type BuildResult } from '../src/builder/index.ts';
import { parseProcfile } from '../src/builder/procfile.ts';
import { spoolSource, type SourceTree } from '../src/builder/source.ts';
import { planNodeApp } from '../src/builder/node-app.ts';
import { dockerignoreFilter } from '../src/builder/dockerignore.ts';
import { ScratchRepos } from './support/scratch-repos.ts';

const SOCKET = process.env.BERTH_DOCKER_SOCKET ?? '/var/run/docker.sock';
const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'apps');
const STACKS = { node: 'berth/node:24', python: 'berth/python:3', go: 'berth/go:1', static: 'berth/node:24', generic: 'berth/node:24' };
const IMAGE = `berth-test-builder-${process.pid}`;
const START_TIMEOUT_MS = 20_000;

let work: string;
let builder: DockerBuilder;
let repos: ScratchRepos;
const tags: string[] = [];
/** Layer ids from build output: failed builds leave their last layer untagged, removed after the tests. */
const layerIds = new Set<string>();

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

// ---- scratch git repositories (test/support/scratch-repos.ts) ------------------------------------

const archive = (repo: string): Readable => spawn('git', ['-C', repo, 'archive', '--format=tar', 'HEAD']).stdout;

// ---- building and running -----------------------------------------------------------------------

interface Built { result: BuildResult; tag: string; lines: string[]; ms: number }

async function build(repo: string, name: string, options: { buildArgs?: Record<string, string>; with?: DockerBuilder; signal?: AbortSignal } = {}): Promise<Built> {
  const tag = `${IMAGE}/${name}:${tags.length + 1}`;
  tags.push(tag);
  const lines: string[] = [];
  const started = Date.now();
  const result = await (options.with ?? builder).build({
    app: name, source: archive(repo), tag, buildArgs: options.buildArgs ?? {}, dockerfilePath: 'Dockerfile',
    progress: (line) => {
      lines.push(line);
      const layer = /^\s*---> ([0-9a-f]{12})$/.exec(line);
      if (layer) layerIds.add(layer[1]!);
    },
    signal: options.signal,
  });
  return { result, tag, lines, ms: Date.now() - started };
}

async function buildFixture(fixture: string, files: Record<string, string> = {}): Promise<Built> {
  return build(repos.create(files, fixture), fixture);
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/** Raw request target, sent exactly as given (fetch would normalise "/../"). */
function get(port: number, target: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out'))).on('error', reject).end();
  });
}

/** Runs the image like the deployer would (PORT=5000), waits for an answer, always removes the container. */
async function withRunning<T>(tag: string, use: (port: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const id = docker('run', '-d', '--init', '-p', `127.0.0.1:${port}:5000`, '-e', 'PORT=5000', tag);
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await get(port, '/');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${tag} did not answer within ${START_TIMEOUT_MS} ms: ${(err as Error).message}\n${docker('logs', id)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return await use(port);
  } finally {
    docker('rm', '-f', id);
  }
}

const stepLine = (lines: string[], pattern: RegExp) => lines.findIndex((line) => /^Step \d+\/\d+ : /.test(line) && pattern.test(line));

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-builder-test-'));
  repos = new ScratchRepos(work, FIXTURES);
  // The intercepting proxy's CA, as the server would configure it: npm ci inside builds needs it.
  const caFile = path.join(work, 'extra-ca.pem');
  const caDir = '/usr/local/share/ca-certificates';
  const cas = fs.existsSync(caDir) ? fs.readdirSync(caDir).filter((name) => name.endsWith('.crt')) : [];
  fs.writeFileSync(caFile, cas.map((name) => fs.readFileSync(path.join(caDir, name), 'utf8')).join('\n'));
  builder = new DockerBuilder({ socketPath: SOCKET, stacks: STACKS, extraCaFile: cas.length > 0 ? caFile : null });
});

after(() => {
  const removeImage = (image: string) => {
    try {
      docker('rmi', image);
    } catch {
      // a build that failed left no tag; a layer still used by another image stays
    }
  };
  for (const tag of tags) removeImage(tag);
  const dangling = new Set(docker('images', '-q', '--filter', 'dangling=true').split('\n'));
  for (const id of layerIds) if (dangling.has(id)) removeImage(id);
  fs.rmSync(work, { recursive: true, force: true });
});

// ---- detection and Procfile (no engine involved) ------------------------------------------------

test('Procfile: types and commands, comments ignored, release is not a process type', () => {
  const parsed = parseProcfile('# comment\n\nweb: node server.js --port $PORT\r\nworker:  node worker.js\nrelease: ./migrate\n');
  assert.deepEqual(parsed, { processes: { web: 'node server.js --port $PORT', worker: 'node worker.js' }, releaseCommand: './migrate' });
  assert.throws(() => parseProcfile('web: a\nweb: b\n'), /line 2: process type "web" is defined twice/);
  assert.throws(() => parseProcfile('Web: a\n'), /line 1: process type "Web" must be lowercase/);
  assert.throws(() => parseProcfile('web a\n'), /line 1: expected "type: command"/);
  assert.throws(() => parseProcfile('worker:\n'), /"worker" has no command/);
});

test('an empty repository fails detection, naming everything that was looked for', async () => {
  const repo = repos.create({ 'README.md': '# nothing to build\n' });
  await assert.rejects(build(repo, 'empty'), (err: Error) => {
    assert.ok(err instanceof BuildError);
    assert.match(err.message, /cannot tell how to build this app/);
    for (const looked of ['Dockerfile', 'package.json', 'index.html', 'Procfile']) assert.ok(err.message.includes(looked), `${looked} in: ${err.message}`);
    return true;
  });
});

test('a caller\'s check (app.json) failing while the source spools is the build\'s error: nothing detected or said, the spool removed', async () => {
  const repo = repos.create({}, 'node-npm');
  const tmp = fs.mkdtempSync(path.join(work, 'spool-'));
  const tmpBefore = process.env.TMPDIR;
  process.env.TMPDIR = tmp; // where spoolSource writes the source, read when it starts
  const refused = new Error('app.json is invalid: formation.web.quantity must be a whole number from 0 to 1000');
  const lines: string[] = [];
  let detected = false;
  try {
    await assert.rejects(builder.build({
      app: 'gated', source: archive(repo), tag: `${IMAGE}/gated:1`, buildArgs: {}, dockerfilePath: 'Dockerfile',
      progress: (line) => lines.push(line), detected: () => { detected = true; }, ready: Promise.reject(refused),
    }), (err) => err === refused);
  } finally {
    if (tmpBefore === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = tmpBefore;
  }
  assert.deepEqual(lines, [], 'nothing was said');
  assert.equal(detected, false, 'nothing was detected');
  // The source was being spooled meanwhile: its file goes once it is written.
  const deadline = Date.now() + 10_000;
  while (fs.readdirSync(tmp).some((f) => f.startsWith('berth-source-')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('berth-source-')), []);

  // A check that passes later: the build waits for it, then goes on as without one.
  let passed = 0;
  const later = new Promise<void>((resolve) => setTimeout(() => { passed = Date.now(); resolve(); }, 300));
  const tag = `${IMAGE}/gated:2`;
  tags.push(tag);
  const said: { at: number; line: string }[] = [];
  const result = await builder.build({
    app: 'gated', source: archive(repo), tag, buildArgs: {}, dockerfilePath: 'Dockerfile',
    progress: (line) => { said.push({ at: Date.now(), line }); }, ready: later,
  });
  assert.equal(result.kind, 'node');
  assert.ok(said[0]!.at >= passed, `the first line came after the check passed: ${said[0]!.line}`);
});

test('the source tar is read through pax long names; a pushed .berth/ is replaced by the generated one', async () => {
  const deep = `${'very-long-directory-name/'.repeat(5)}index.html`;
  const repo = repos.create({ [deep]: 'deep', 'Procfile': 'web: true\n', '.berth/Dockerfile': 'FROM scratch\n' });
  const tree = await spoolSource(archive(repo));
  try {
    assert.equal(await tree.readText(deep), 'deep');
    assert.ok(tree.has('very-long-directory-name'));
    const contextTar = path.join(work, 'context.tar');
    await new Promise<void>((resolve, reject) => {
      tree.context({ 'Dockerfile': Buffer.from('FROM generated\n') }).pipe(fs.createWriteStream(contextTar)).on('finish', resolve).on('error', reject);
    });
    const listed = execFileSync('tar', ['-tf', contextTar], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(listed.includes(deep), listed.join('\n'));
    assert.deepEqual(listed.filter((name) => name.startsWith('.berth')), ['.berth/Dockerfile']);
    assert.equal(execFileSync('tar', ['-xOf', contextTar, '.berth/Dockerfile'], { encoding: 'utf8' }), 'FROM generated\n');
  } finally {
    await tree.dispose();
  }
});

/** A source tree from a file list, for the parts of the builder that only read it. */
function fakeTree(files: Record<string, string>): SourceTree {
  return {
    has: (p) => p in files,
    list: () => [],
    readText: async (p) => files[p] ?? null,
    context: () => Readable.from([]),
    dispose: async () => {},
  };
}

test('the lockfile picks the installer; the start command follows Heroku\'s order', async () => {
  const pkg = (extra: object) => JSON.stringify({ name: 'x', ...extra });
  const npmCi = await planNodeApp(fakeTree({ 'package.json': pkg({ scripts: { start: 'node a.js' } }), 'npm-shrinkwrap.json': '{}' }));
  assert.equal(npmCi.installCommand, 'npm ci --include=dev');
  assert.deepEqual(npmCi.manifestFiles, ['package.json', 'npm-shrinkwrap.json']);
  assert.deepEqual(npmCi.startCommand, ['npm', 'start']);
  assert.equal(npmCi.pruneCommand, null, 'no dev dependencies, nothing to prune');

  const npmInstall = await planNodeApp(fakeTree({ 'package.json': pkg({ devDependencies: { a: '1' } }), '.npmrc': 'x', 'server.js': '', 'index.js': '' }));
  assert.equal(npmInstall.installCommand, 'npm install --include=dev');
  assert.deepEqual(npmInstall.manifestFiles, ['package.json', '.npmrc']);
  assert.equal(npmInstall.pruneCommand, 'npm prune --omit=dev');
  assert.deepEqual(npmInstall.startCommand, ['node', 'server.js']);

  const yarn = await planNodeApp(fakeTree({ 'package.json': pkg({ main: 'dist/main.js', scripts: { build: 'tsc' } }), 'yarn.lock': '' }));
  assert.match(yarn.installCommand, /corepack yarn install --frozen-lockfile$/);
  assert.equal(yarn.buildCommand, 'npm run build');
  assert.deepEqual(yarn.startCommand, ['node', 'dist/main.js']);

  const pnpm = await planNodeApp(fakeTree({ 'package.json': pkg({ scripts: { postinstall: 'node setup.js' } }), 'pnpm-lock.yaml': '', 'index.js': '' }));
  assert.match(pnpm.installCommand, /corepack pnpm install --frozen-lockfile$/);
  assert.equal(pnpm.installNeedsSource, true, 'an install script may need the whole source');
  assert.deepEqual(pnpm.startCommand, ['node', 'index.js']);

  assert.equal((await planNodeApp(fakeTree({ 'package.json': pkg({}) }))).startCommand, null);
  await assert.rejects(planNodeApp(fakeTree({ 'package.json': '{ not json' })), /package.json is not valid JSON/);
});

test('.dockerignore: globs, ** and !, last match wins, directories take their contents', () => {
  const keep = dockerignoreFilter('# comment\nnode_modules\n**/*.log\n!important.log\n/docs/*.md\n!docs/README.md\nsecret?.txt\n', ['Dockerfile']);
  const kept = ['app.js', 'src/a.log.js', 'important.log', 'docs/README.md', 'docs/sub/x.md', 'secret10.txt', 'Dockerfile'];
  const dropped = ['node_modules', 'node_modules/x/index.js', 'a.log', 'src/deep/b.log', 'docs/guide.md', 'secret1.txt'];
  for (const p of kept) assert.equal(keep(p), true, p);
  for (const p of dropped) assert.equal(keep(p), false, p);
  assert.equal(dockerignoreFilter('*\n', ['Dockerfile'])('Dockerfile'), true, 'the Dockerfile always goes');
  assert.equal(dockerignoreFilter(null, [])('anything'), true);
});

// ---- Node.js apps -------------------------------------------------------------------------------

let nodeNpm: { repo: string; first: Built };

test('node-npm: npm ci from the lockfile, Procfile processes and release command, answers on $PORT', async () => {
  // A fresh description makes this run's install layer new, so the first build really runs npm ci.
  const pkg = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'node-npm', 'package.json'), 'utf8'));
  pkg.description = `${pkg.description} (test run ${Date.now()})`;
  const repo = repos.create({ 'package.json': `${JSON.stringify(pkg, null, 2)}\n` }, 'node-npm');
  const first = await build(repo, 'node-npm');
  nodeNpm = { repo, first };
  assert.equal(first.result.kind, 'node');
  assert.deepEqual(first.result.processes, { web: 'npm start', worker: 'node worker.js' });
  assert.equal(first.result.releaseCommand, `node -e "console.log('release phase ran for node-npm')"`);
  assert.match(first.result.imageId, /^sha256:[0-9a-f]{64}$/);
  assert.ok(stepLine(first.lines, /: RUN npm ci/) !== -1, first.lines.join('\n'));
  assert.ok(!first.lines.some((line) => line.includes('\u001b') || line.trim() === ''), 'no colours, no empty lines');

  const inspect = JSON.parse(docker('image', 'inspect', first.tag))[0];
  assert.equal(inspect.Id, first.result.imageId);
  assert.equal(inspect.Config.Labels['berth.app'], 'node-npm');
  assert.ok(inspect.Config.Env.includes('NODE_ENV=production'));
  assert.ok(inspect.Config.Env.includes('PORT=5000'));

  const released = docker('run', '--rm', first.tag, '/bin/bash', '-c', first.result.releaseCommand!);
  assert.match(released, /release phase ran for node-npm/);
  await withRunning(first.tag, async (port) => {
    const reply = await get(port, '/');
    assert.equal(reply.status, 200);
    assert.match(reply.body, /node-npm says hello \(is-number\(5\)=true, NODE_ENV=production\)/);
  });
});

test('node-npm: a one-line source change rebuilds with the dependency install from the layer cache', async () => {
  assert.ok(nodeNpm, 'needs the first node-npm build');
  repos.commitChange(nodeNpm.repo, 'server.js', (text) => text.replace("'node-npm says hello'", "'node-npm says hello again'"));
  const second = await build(nodeNpm.repo, 'node-npm');
  console.log(`node-npm build: first ${nodeNpm.first.ms} ms, after a one-line change ${second.ms} ms`);
  const install = stepLine(second.lines, /: RUN npm ci/);
  const copySource = stepLine(second.lines, /: COPY \. /);
  assert.equal(second.lines[install + 1]?.trim(), '---> Using cache', second.lines.join('\n'));
  assert.notEqual(second.lines[copySource + 1]?.trim(), '---> Using cache', 'the changed source is copied again');
  assert.ok(second.ms < nodeNpm.first.ms, `cached build (${second.ms} ms) is faster than the first (${nodeNpm.first.ms} ms)`);
  await withRunning(second.tag, async (port) => assert.match((await get(port, '/')).body, /node-npm says hello again/));
});

test('node-build: dev dependencies for the build script, build args, pruned afterwards, main as the start', async () => {
  const { result, tag, lines } = await build(repos.create({}, 'node-build'), 'node-build', { buildArgs: { BUILD_GREETING: 'hi from a build arg' } });
  assert.equal(result.kind, 'node');
  assert.deepEqual(result.processes, { web: 'node server.js' });
  assert.equal(result.releaseCommand, null);
  assert.ok(stepLine(lines, /: RUN npm run build/) !== -1, lines.join('\n'));
  await withRunning(tag, async (port) => {
    const { body } = await get(port, '/');
    assert.match(body, /built by npm run build \(dev dependency worked: true, greeting: hi from a build arg\)/);
    assert.match(body, /dev dependency present at runtime: false/);
  });
});

test('broken-build: the failing build script rejects with its own error lines', async () => {
  await assert.rejects(buildFixture('broken-build'), (err: Error) => {
    assert.ok(err instanceof BuildError, String(err));
    assert.match(err.message, /^build failed at step \d+\/\d+ \(RUN .*\): broken-build: syntax error in src\/app\.js line 3 \(exit code 2\)$/);
    return true;
  });
});

test('yarn.lock: installed with yarn through the stack\'s corepack, and the app runs', async () => {
  const repo = repos.create({
    'package.json': '{"name":"y","version":"1.0.0","scripts":{"start":"node x.js"}}\n',
    'yarn.lock': '# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n',
    'x.js': "require('http').createServer((q, s) => s.end('yarn app runs')).listen(process.env.PORT);\n",
  });
  const { result, tag } = await build(repo, 'yarn-app');
  assert.equal(result.kind, 'node');
  await withRunning(tag, async (port) => assert.match((await get(port, '/')).body, /yarn app runs/));
});

test('a Node.js app with no way to start is refused before building', async () => {
  const repo = repos.create({ 'package.json': '{"name":"nostart","scripts":{"build":"true"}}\n' });
  await assert.rejects(build(repo, 'nostart'), /cannot tell how to start this Node\.js app/);
});

// ---- static sites -------------------------------------------------------------------------------

test('static-site: files with their types, index.html for directories, 404 page, no traversal, no dotfiles', async () => {
  const { result, tag } = await buildFixture('static-site');
  assert.equal(result.kind, 'static');
  assert.deepEqual(result.processes, { web: 'node /berth/static-server.mjs' });
  await withRunning(tag, async (port) => {
    const home = await get(port, '/');
    assert.equal(home.status, 200);
    assert.match(home.headers['content-type']!, /^text\/html/);
    assert.match(home.body, /static-site home page/);
    const css = await get(port, '/css/site.css?v=1');
    assert.equal(css.status, 200);
    assert.match(css.headers['content-type']!, /^text\/css/);
    const redirect = await get(port, '/about');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/about/');
    assert.match((await get(port, '/about/')).body, /static-site about page/);
    const missing = await get(port, '/no/such/page');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /404 Not Found/);
    for (const target of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/css/..%2f..%2f..%2fetc/passwd', '/..\\..\\etc\\passwd']) {
      const reply = await get(port, target);
      assert.ok(reply.status === 400 || reply.status === 404, `${target} → ${reply.status}`);
      assert.doesNotMatch(reply.body, /root:/, target);
    }
    for (const hidden of ['/.env', '/.berth/Dockerfile', '/.berth/static-server.mjs']) {
      const reply = await get(port, hidden);
      assert.equal(reply.status, 404, hidden);
      assert.doesNotMatch(reply.body, /SECRET|FROM /, hidden);
    }
  });
});

// ---- Dockerfile and Procfile apps ---------------------------------------------------------------

test('dockerfile-app: the user\'s Dockerfile is built as is, with its .dockerignore applied', async () => {
  const { result, tag } = await buildFixture('dockerfile-app');
  assert.equal(result.kind, 'dockerfile');
  assert.deepEqual(result.processes, {});
  assert.equal(result.releaseCommand, null);
  const context = docker('run', '--rm', tag, 'find', '/srv/context', '-type', 'f').split('\n').sort();
  assert.deepEqual(context, ['/srv/context/.dockerignore', '/srv/context/Dockerfile', '/srv/context/keep.tmp', '/srv/context/server.js']);
  await withRunning(tag, async (port) => assert.match((await get(port, '/')).body, /dockerfile-app built from its own Dockerfile/));
});

test('procfile-only: the generic stack runs the Procfile web command', async () => {
  const { result, tag } = await buildFixture('procfile-only');
  assert.equal(result.kind, 'procfile');
  assert.deepEqual(result.processes, { web: 'node web.js --port "$PORT"' });
  assert.equal(result.releaseCommand, 'echo "procfile-only release"');
  await withRunning(tag, async (port) => assert.match((await get(port, '/')).body, /procfile-only web process on port 5000/));
});

// ---- deadlines ----------------------------------------------------------------------------------

test('a build past its deadline, or aborted by the pusher, stops and leaves no build container behind', async () => {
  const repo = repos.create({ 'Dockerfile': 'FROM berth/node:24\nRUN echo started && sleep 47\n' });
  const slow = new DockerBuilder({ socketPath: SOCKET, stacks: STACKS, extraCaFile: null, buildTimeoutMs: 3000 });
  const started = Date.now();
  await assert.rejects(build(repo, 'slow', { with: slow }), /build timed out after 3 s[\s\S]*started/);
  assert.ok(Date.now() - started < 15_000);

  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1500);
  await assert.rejects(build(repo, 'slow', { signal: controller.signal }), /build aborted/);

  // The engine cancels a build whose client went away: the RUN container is killed and removed.
  const deadline = Date.now() + 15_000;
  while (docker('ps', '-a', '--no-trunc', '--format', '{{.Command}}').includes('sleep 47')) {
    assert.ok(Date.now() < deadline, 'the build container is still there');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
});
