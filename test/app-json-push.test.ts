// app.json on a real `git push`: Dokku's and Heroku's scripts run around the release, the formation sets the
// first counts and sizes, the web health check path and budget are used for this release and its restarts,
// and a broken file stops the push with the field named while the running release keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitPush } from './support/git-push.ts';
import { ScratchRepos } from './support/scratch-repos.ts';
import { startBerth, uniqueName, viaRouter, type BerthServer } from './support/berth.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work: string;
let repos: ScratchRepos;
let repo: string;
const app = uniqueName('appjson');

// '/' answers 500: a release checked on '/' (the default) would fail, so going live proves /health was used.
const SERVER = `require('node:http').createServer((q, r) => { r.statusCode = q.url === '/health' ? 200 : 500; r.end('web ' + q.url + ' ' + process.env.BERTH_RELEASE + '\\n'); }).listen(process.env.PORT);\n`;
const APP_JSON = {
  scripts: {
    dokku: { predeploy: 'echo "predeploy on $BERTH_RELEASE as $DYNO"', postdeploy: 'echo "postdeploy after $BERTH_RELEASE"' },
    postdeploy: 'echo "seeding once"',
  },
  formation: { web: { quantity: 2, size: '256M' }, worker: { quantity: 1, size: 'standard-1X' } },
  healthchecks: { web: [{ type: 'startup', path: '/health', attempts: 5, timeout: 2, wait: 1 }] },
};

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address, BERTH_STACK_GENERIC: 'berth/node:24' });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-app-json-'));
  repos = new ScratchRepos(work, work);
  await berth.ok('POST', '/apps', { name: app });
  repo = repos.create({
    Procfile: 'web: node server.js\nworker: node -e "setInterval(() => {}, 1000)"\n',
    'server.js': SERVER,
    'app.json': JSON.stringify(APP_JSON, null, 2),
  });
  repos.git(repo, 'branch', '-M', 'main');
  repos.git(repo, 'remote', 'add', 'paas', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`);
});

after(async () => {
  await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const push = () => gitPush(repo, 'paas', 'main');
const formation = async () => (await berth.ok('GET', `/apps/${app}/formation`)).map((f: any) => [f.type, f.quantity, f.memoryMB]);
const count = (text: string, needle: string) => text.split(needle).length - 1;

test('the first push runs predeploy, the release, both postdeploys, with app.json\'s formation and health check', async () => {
  const first = await push();
  assert.equal(first.code, 0, first.output);
  assert.match(first.output, /remote: +app\.json: predeploy script, postdeploy script \(every release\), postdeploy script \(first release\), initial formation for web, worker, web health check \/health within 15 s/);
  assert.match(first.output, /remote: +predeploy: predeploy on v1 as predeploy\.1/);
  assert.match(first.output, /remote: +postdeploy: postdeploy after v1/);
  assert.match(first.output, /remote: +postdeploy: seeding once/);
  const order = ['predeploy on v1', 'v1 is live', 'postdeploy after v1'].map((text) => first.output.indexOf(text));
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'predeploy before going live, postdeploy after');
  assert.deepEqual(await formation(), [['web', 2, 256], ['worker', 1, 512]]);
  assert.match((await viaRouter(caddy.httpPort, `${app}.localhost`, '/health')).body, /^web \/health v1/);
});

test('later pushes keep what ps:scale set, run the Heroku postdeploy no more, and restarts use the stored health path', async () => {
  await berth.ok('PATCH', `/apps/${app}/formation`, { updates: [{ type: 'web', quantity: 1 }] });
  repos.commitChange(repo, 'server.js', (text) => text.replace("'web '", "'web again '"));
  const second = await push();
  assert.equal(second.code, 0, second.output);
  assert.match(second.output, /postdeploy after v2/);
  assert.equal(count(second.output, 'seeding once'), 0, 'scripts.postdeploy runs after the first release only');
  assert.deepEqual(await formation(), [['web', 1, 256], ['worker', 1, 512]]);
  // A restart starts new web instances: they pass only if the release's /health check is used again.
  await berth.ok('POST', `/apps/${app}/ps/restart`, {});
  assert.match((await viaRouter(caddy.httpPort, `${app}.localhost`, '/health')).body, /^web again \/health v2/);
});

test('a broken app.json stops the push, naming the field; a failing predeploy fails the release; v2 keeps serving', async () => {
  fs.writeFileSync(path.join(repo, 'app.json'), JSON.stringify({ ...APP_JSON, formation: { web: { quantity: 'two' } } }));
  repos.git(repo, 'commit', '-qam', 'broken app.json');
  const broken = await push();
  assert.notEqual(broken.code, 0);
  assert.match(broken.output, /remote: !\s+Push rejected: app\.json is invalid: formation\.web\.quantity must be a whole number from 0 to 1000/);
  assert.doesNotMatch(broken.output, /Step 1\//, 'nothing was built');
  assert.doesNotMatch(broken.output, /Detected/, 'nor detected: the build waits for app.json, read while the source spools');

  fs.writeFileSync(path.join(repo, 'app.json'), JSON.stringify({ scripts: { predeploy: 'echo checking; exit 3' } }));
  repos.git(repo, 'commit', '-qam', 'failing predeploy');
  const failing = await push();
  assert.notEqual(failing.code, 0);
  assert.match(failing.output, /predeploy: checking/);
  assert.match(failing.output, /the app\.json predeploy script exited with code 3/);
  assert.match((await viaRouter(caddy.httpPort, `${app}.localhost`, '/health')).body, /^web again \/health v2/);
});
