// Issue 16, "the first day with Berth": what a new user hits pushing real apps. One server, Caddy and registry
// for the whole file; real `git push`, real builds and releases. Each test names the item it shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { ScratchRepos } from './support/scratch-repos.ts';
import { startBerth, eventually, uniqueName, viaRouter, type BerthServer } from './support/berth.ts';
import { parseListeningPorts } from '../src/runtime/docker/listening-ports.ts';
import { BuildProgress, failureMessage } from '../src/builder/docker-build.ts';
import { describeFailure } from '../src/releases/health.ts';
import { baseImageError } from '../src/builder/base-image-error.ts';
import { BuildError } from '../src/builder/errors.ts';

import { CLI_ENTRY as CLI } from './support/cli.ts';
let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work: string;
let repos: ScratchRepos;
const app = uniqueName('first');

interface PushResult { code: number; output: string; buildingAfterMs: number | null }

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  // A drain of 3 s (the default; the harness shortens it) leaves time to see item 14's old instance still draining.
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address, BERTH_STACK_GENERIC: 'berth/node:24', BERTH_DRAIN_SECONDS: '3' });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-first-day-'));
  repos = new ScratchRepos(work, work);
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A repo on branch main with these files, its remote `paas` pointing at the app (token in the URL unless told not). */
function repoWith(files: Record<string, string>, withToken = true): string {
  const repo = repos.create(files);
  repos.git(repo, 'branch', '-M', 'main');
  const auth = withToken ? `berth:${berth.token}@` : '';
  repos.git(repo, 'remote', 'add', 'paas', `http://${auth}127.0.0.1:${berth.port}/git/${app}.git`);
  return repo;
}

/** git push, noting how long it took until the build started (the "Building" line). */
function push(cwd: string, env: NodeJS.ProcessEnv = gitEnv()): Promise<PushResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn('git', ['push', 'paas', 'main'], { cwd, env });
    let output = '';
    let buildingAfterMs: number | null = null;
    const collect = (d: Buffer) => {
      output += d;
      if (buildingAfterMs === null && /-----> Building /.test(output)) buildingAfterMs = Date.now() - started;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('close', (code) => resolve({ code: code ?? -1, output, buildingAfterMs }));
  });
}

const count = (text: string, needle: string) => text.split(needle).length - 1;
const SERVER = (port: string) => `console.log('booting the server');\nrequire('node:http').createServer((q, r) => r.end('up on ' + ${port} + '\\n')).listen(${port}, () => console.log('listening on ' + ${port}));\n`;

test('units: /proc/net/tcp listening ports, a build failure said once, a missing stack image, a health failure explained', async () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:1388 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 20 4 30 10 -1',
    '   2: 0B00007F:9375 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0',
  ].join('\n');
  const tcp6 = '  sl  local_address                         remote_address                        st\n' +
    '   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000\n';
  assert.deepEqual(parseListeningPorts(`${tcp}\n${tcp6}`), [3000, 8080], 'LISTEN sockets only (5000 is an established one), not Docker\'s DNS on 127.0.0.11');
  assert.deepEqual(parseListeningPorts(''), []);

  const progress = new BuildProgress();
  for (const line of ['Step 1/2 : FROM x', 'Step 2/2 : RUN npm run build', '> build', 'src/app.js:3 SyntaxError: Unexpected token',
    'npm error Lifecycle script `build` failed with error:', 'npm error code 2', 'npm error command sh -c node build.js']) progress.see(line);
  assert.equal(failureMessage(progress, "The command '/bin/sh -c npm run build' returned a non-zero code: 2"),
    'build failed at step 2/2 (RUN npm run build): src/app.js:3 SyntaxError: Unexpected token (exit code 2)');
  assert.equal(failureMessage(new BuildProgress(), 'no space left on device'), 'build failed: no space left on device');

  const stacks = { node: 'berth/nope:24', python: 'p', go: 'g', static: 'berth/nope:24', generic: 'd' };
  const stackMissing = await baseImageError(new BuildError('build failed at step 1/8 (FROM berth/nope:24): pull access denied', 'FROM berth/nope:24'),
    { kind: 'node', dockerfile: 'FROM berth/nope:24\nRUN npm ci\n', buildArgs: {}, stacks, isLocal: async () => false });
  assert.match(stackMissing!.message, /^build failed .*\nThe base image berth\/nope:24 is not on this host and could not be pulled: it is a build stack image; build the defaults with scripts\/base-images\.sh or point BERTH_STACK_NODE \/ BERTH_STACK_STATIC at an image/);
  assert.equal(await baseImageError(new BuildError('build failed at step 2/8 (RUN npm ci): x', 'RUN npm ci'),
    { kind: 'node', dockerfile: 'FROM berth/nope:24\n', buildArgs: {}, stacks, isLocal: async () => false }), null, 'not a FROM step: left as it is');

  assert.equal(describeFailure(5000, [8080], ['a', 'b']),
    '\nThe process never listened on PORT 5000; it listens on 8080: make it listen on the port in $PORT.\nThe process printed (last 2 lines):\n  a\n  b');
  assert.equal(describeFailure(5000, [5000], []), '\nThe process printed nothing.');
  assert.equal(describeFailure(5000, null, ['x']), '\nThe process printed (last 1 line):\n  x', 'no probe: nothing claimed');
});

test('8, 12: config on an app with no image is stored without a release; BERTH_HEALTHCHECK_TIMEOUT applies', async () => {
  await berth.ok('POST', '/apps', { name: app });
  const res = await berth.ok('PATCH', `/apps/${app}/config`, { BERTH_HEALTHCHECK_TIMEOUT: '4', GREETING: 'hi' });
  assert.equal(res.release, null);
  assert.match(res.note, /stored; it takes effect with the first deploy/i);
  assert.deepEqual(await berth.ok('GET', `/apps/${app}/releases`), [], 'no config-only release');
  assert.equal((await berth.ok('GET', `/apps/${app}`)).currentRelease ?? null, null);
  const cli = spawnSync(process.execPath, [CLI, 'config:set', app, 'MORE=1'], {
    encoding: 'utf8', env: { ...process.env, BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token, BERTH_CONFIG_DIR: work },
  });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /stored; it takes effect with the first deploy/);
});

test('2, 4, 3, 12: an app that never listens on $PORT: the push says so, names its port, shows its output; logs keep it', async () => {
  const repo = repoWith({ Procfile: 'web: node server.js\n', 'server.js': SERVER('8080') });
  const result = await push(repo);
  assert.notEqual(result.code, 0, result.output);
  assert.match(result.output, /web\.1 failed its health check: GET http:\/\/[\d.]+:\d+\/ → .*; no good answer in 4 s/, result.output);
  assert.match(result.output, /remote: !\s+The process never listened on PORT 5000; it listens on 8080: make it listen on the port in \$PORT\./);
  assert.match(result.output, /remote: !\s+The process printed \(last 2 lines\):\s*\nremote: !\s+booting the server\s*\nremote: !\s+listening on 8080/);
  assert.match(result.output, /remote: !\s+Nothing was released; fix the problem and push again\./, 'item 4: a first push says nothing was released');
  assert.doesNotMatch(result.output, /running release keeps serving/);
  const [release] = await berth.ok('GET', `/apps/${app}/releases`);
  assert.equal(release.status, 'failed');
  assert.match(release.failureReason ?? release.error ?? JSON.stringify(release), /never listened on PORT 5000; it listens on 8080[\s\S]*listening on 8080/);
  const [build] = await berth.ok('GET', `/apps/${app}/builds`);
  assert.equal(build.kind, 'procfile', 'item 12: a build that failed after detection shows its kind');
  // Item 3: the instance is gone, yet `berth logs` (no --since) shows what it printed.
  const logs = await eventually('the failed instance\'s lines in berth logs', async () => {
    const run = spawnSync(process.execPath, [CLI, 'logs', app], {
      encoding: 'utf8', env: { ...process.env, BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token, BERTH_CONFIG_DIR: work },
    });
    return run.status === 0 && /app\[web\.1\]: listening on 8080/.test(run.stdout) && run.stdout;
  });
  assert.match(logs, /app\[web\.1\]: booting the server\n.*app\[web\.1\]: listening on 8080/);
  const help = spawnSync(process.execPath, [CLI, 'help', 'logs'], { encoding: 'utf8' });
  assert.match(help.stdout + help.stderr, /including\s+ones that are gone/, 'the help may wrap anywhere');
});

test('2: an app that crashes on start: the push shows the crash in the process\'s own words', async () => {
  const repo = repoWith({ Procfile: 'web: no-such-server --port $PORT\n', 'server.js': '' });
  const result = await push(repo);
  assert.notEqual(result.code, 0, result.output);
  assert.match(result.output, /web\.1 failed its health check: (the process crashed|the container is)/, result.output);
  assert.match(result.output, /remote: !\s+The process printed \(last \d+ lines?\):\s*\nremote: !\s+.*no-such-server: (command )?not found/);
});

test('5: a failing build step is said once, in the error\'s words, not Berth\'s generated command', async () => {
  const repo = repoWith({ Dockerfile: 'FROM berth/debian:bookworm\nRUN echo "config.yml: missing key \\"port\\"" >&2; exit 3\n' });
  const result = await push(repo);
  assert.notEqual(result.code, 0, result.output);
  assert.match(result.output, /remote: !\s+Push rejected: build failed at step \d+\/\d+ \(RUN echo .*\): config\.yml: missing key "port" \(exit code 3\)/, result.output);
  assert.equal(count(result.output, 'config.yml: missing key "port"'), 2, `streamed once, said once:\n${result.output}`);
  assert.doesNotMatch(result.output, /returned a non-zero code|last build output/);
  const [build] = await berth.ok('GET', `/apps/${app}/builds`);
  assert.equal(build.kind, 'dockerfile');
});

test('6: a missing base image is named, with where to point the build', async () => {
  const unset = await push(repoWith({ Dockerfile: 'ARG BASE\nFROM ${BASE}\nCMD ["true"]\n' }));
  assert.notEqual(unset.code, 0, unset.output);
  assert.match(unset.output, /Dockerfile line 2: "FROM \$\{BASE\}" names no image: its variable is unset; give the ARG a default or pass it as a build arg \(config var BERTH_BUILD_ARGS/, unset.output);

  const missing = await push(repoWith({ Dockerfile: 'FROM berth-test/no-such-base:1\nCMD ["true"]\n' }));
  assert.notEqual(missing.code, 0, missing.output);
  assert.match(missing.output, /remote: !\s+The base image berth-test\/no-such-base:1 is not on this host and could not be pulled: check the Dockerfile's FROM line and its build args \(BERTH_BUILD_ARGS\); without internet access the engine pulls only through its registry mirror/, missing.output);
});

test('7: git push with only BERTH_API_URL + BERTH_TOKEN (CI): git:remote sets up the credential helper', async () => {
  const home = fs.mkdtempSync(path.join(work, 'home-'));
  const ci = { HOME: home, XDG_CONFIG_HOME: home, BERTH_CONFIG_DIR: path.join(home, 'berth'), BERTH_API_URL: berth.url, BERTH_TOKEN: berth.token };
  const repo = repoWith({ Procfile: 'web: node server.js\n', 'server.js': SERVER('process.env.PORT') }, false);
  spawnSync('git', ['-C', repo, 'remote', 'remove', 'paas']);
  const remote = spawnSync(process.execPath, [CLI, 'git:remote', app], { cwd: repo, encoding: 'utf8', env: { ...process.env, ...ci } });
  assert.equal(remote.status, 0, remote.stderr);
  assert.doesNotMatch(fs.readFileSync(path.join(repo, '.git/config'), 'utf8'), /berth_/, 'no token in .git/config');

  const noToken = await push(repo, gitEnv({ ...ci, BERTH_TOKEN: '' }));
  assert.notEqual(noToken.code, 0, 'without a token git gets no credentials');
  const result = await push(repo, gitEnv(ci));
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /deployed to/);
  assert.match((await viaRouter(caddy.httpPort, `${app}.localhost`)).body, /^up on 5000/);
});

test('1: a push to a re-created app name starts building at once', async (t) => {
  await berth.ok('DELETE', `/apps/${app}`, { confirm: app });
  await berth.ok('POST', '/apps', { name: app });
  const result = await push(repoWith({ Procfile: 'web: node server.js\n', 'server.js': SERVER('process.env.PORT') }));
  assert.equal(result.code, 0, result.output);
  // The old app's accepted commit is forgotten: no waiting (up to 5 s) for it to land in the new repository.
  assert.ok(result.buildingAfterMs !== null && result.buildingAfterMs < 3000, `the build started after ${result.buildingAfterMs} ms`);
  t.diagnostic(`re-created app: the build started ${result.buildingAfterMs} ms after git push (was ~5.4 s)`);
});

test('14: a push returns once the new release serves; the old instance drains and stops after it', async (t) => {
  const drainApp = uniqueName('drain');
  await berth.ok('POST', '/apps', { name: drainApp });
  // Instances only: the network holders the app keeps ready for its next push are no instances.
  const running = () => spawnSync('docker', ['ps', '-q', '--filter', `label=berth.app=${drainApp}`, '--filter', 'label=berth.managed=1'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  const server = (word: string) => `require('node:http').createServer((q, r) => r.end('${word}\\n')).listen(process.env.PORT);\n`;
  const repo = repos.create({ Procfile: 'web: node server.js\n', 'server.js': server('one') });
  repos.git(repo, 'branch', '-M', 'main');
  repos.git(repo, 'remote', 'add', 'paas', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${drainApp}.git`);
  try {
    assert.equal((await push(repo)).code, 0);
    const [old] = running();
    assert.ok(old, 'v1 runs');
    fs.writeFileSync(path.join(repo, 'server.js'), server('two'));
    repos.git(repo, 'commit', '-qam', 'two');
    const started = Date.now();
    const result = await push(repo);
    const pushMs = Date.now() - started;
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /1 old instance\(s\) stop after a 3 s drain, in the background\./);
    // When git push returns, the new release answers and the old instance is still draining (3 s by default).
    assert.equal((await viaRouter(caddy.httpPort, `${drainApp}.localhost`)).body, 'two\n');
    assert.ok(running().includes(old), 'the old instance drains after the push returned');
    const gone = Date.now();
    // A change meanwhile leaves the draining instance to its drain (it neither waits for it nor stops it early).
    await berth.ok('PATCH', `/apps/${drainApp}/config`, { WHILE_DRAINING: '1' });
    await eventually('the old instance stopped after its drain', async () => !running().includes(old), 20_000);
    t.diagnostic(`push of v2 returned after ${pushMs} ms; the old instance stopped ${Date.now() - gone} ms later`);
    assert.ok(Date.now() - gone >= 1500, 'the old instance had its drain');
    await eventually('one instance left, of v3', async () => running().length === 1, 20_000);
    assert.equal((await viaRouter(caddy.httpPort, `${drainApp}.localhost`)).body, 'two\n');
    assert.equal((await berth.ok('GET', `/apps/${drainApp}`)).currentRelease, 3);
  } finally {
    await berth.api('DELETE', `/apps/${drainApp}`, { confirm: drainApp });
  }
});
