// apps:rename against the real stack: the app keeps serving (its custom domain never fails) while it starts
// under the new name; the new APP.<domain> answers and the old one is gone; config, releases, stored logs,
// the git repository and the registry images (rollback included) go with it; a later app of the old name
// inherits nothing; an existing or invalid name is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { gitPush } from './support/git-push.ts';
import { runCli, runCliSync } from './support/cli.ts';
import { ScratchRepos } from './support/scratch-repos.ts';
import { startBerth, eventually, uniqueName, viaRouter, sleep, type BerthServer } from './support/berth.ts';

let caddy: Awaited<ReturnType<typeof startCaddy>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let berth: BerthServer;
let work: string;
let repos: ScratchRepos;
let repo: string;
const oldName = uniqueName('before');
const newName = uniqueName('after');
const other = uniqueName('other');
const customDomain = `www.${oldName}.example.org`;

const SERVER = (version: string) =>
  `require('node:http').createServer((q, r) => { console.log('request ' + q.url); r.end('${version} ' + process.env.BERTH_APP + ' greeting=' + (process.env.GREETING || '') + '\\n'); }).listen(process.env.PORT);\n`;

before(async () => {
  caddy = await startCaddy();
  registry = await startRegistry();
  berth = await startBerth(caddy, { BERTH_REGISTRY: registry.address, BERTH_STACK_GENERIC: 'berth/node:24' });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rename-'));
  repos = new ScratchRepos(work, work);
  await berth.ok('POST', '/apps', { name: oldName });
  await berth.ok('POST', '/apps', { name: other });
  repo = repos.create({ Procfile: 'web: node server.js\n', 'server.js': SERVER('one') });
  repos.git(repo, 'branch', '-M', 'main');
});

after(async () => {
  for (const name of [oldName, newName, other]) await berth?.api('DELETE', `/apps/${name}`, { confirm: name });
  await berth?.kill('SIGTERM');
  await registry?.stop();
  await caddy?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const push = (name: string) => gitPush(repo, `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${name}.git`, 'main');

const asUser = () => ({ url: berth.url, token: berth.token, home: work });
const berthCli = (...args: string[]) => runCliSync(asUser(), args);
/** The CLI without blocking this process: requests made meanwhile must run while it works. */
const berthCliAsync = (...args: string[]) => runCli(asUser(), args);

const tags = async (name: string): Promise<string[]> => {
  const res = await fetch(`http://${registry.address}/v2/${name}/tags/list`);
  return res.ok ? ((await res.json()) as { tags: string[] | null }).tags ?? [] : [];
};

test('rename refuses a taken, invalid or unchanged name', async () => {
  const taken = await berth.api('PATCH', `/apps/${oldName}`, { name: other });
  assert.equal(taken.status, 409);
  assert.match(taken.body.message, /already exists/);
  const invalid = berthCli('apps:rename', oldName, 'Bad_Name');
  assert.equal(invalid.code, 1);
  assert.match(invalid.err, /Invalid app name "Bad_Name"/);
  const same = await berth.api('PATCH', `/apps/${oldName}`, { name: oldName });
  assert.equal(same.status, 400);
  assert.ok((await berth.api('GET', `/apps/${oldName}`)).status === 200, 'nothing changed');
});

test('a renamed app keeps serving, answers under the new name only, and takes config, releases, logs, repo and images along', async () => {
  await berth.ok('PATCH', `/apps/${oldName}/config`, { GREETING: 'hi' });
  assert.equal((await push(oldName)).code, 0);
  await berth.ok('POST', `/apps/${oldName}/domains`, { hostname: customDomain });
  assert.match((await viaRouter(caddy.httpPort, customDomain, '/before-rename')).body, new RegExp(`^one ${oldName} greeting=hi`));
  assert.deepEqual(await tags(oldName), ['v1']);

  // The custom domain is asked all along: the app must never stop answering while it moves.
  const statuses: number[] = [];
  let renaming = true;
  const watcher = (async () => {
    while (renaming) {
      statuses.push((await viaRouter(caddy.httpPort, customDomain, '/during')).status);
      await sleep(50);
    }
  })();
  const renamed = await berthCliAsync('apps:rename', oldName, newName);
  renaming = false;
  await watcher;
  assert.equal(renamed.code, 0, renamed.err);
  assert.match(renamed.out, new RegExp(`Renaming ${oldName} to ${newName}\\.\\.\\. done`));
  assert.match(renamed.out, new RegExp(`berth git:remote ${newName}`));
  assert.ok(statuses.length >= 5 && statuses.every((s) => s === 200), `statuses while renaming: ${statuses.join(' ')}`);

  assert.match((await viaRouter(caddy.httpPort, `${newName}.localhost`)).body, new RegExp(`^one ${newName} greeting=hi`));
  assert.equal((await viaRouter(caddy.httpPort, `${oldName}.localhost`)).status, 404);
  assert.equal((await berth.api('GET', `/apps/${oldName}`)).status, 404);
  const app = await berth.ok('GET', `/apps/${newName}`);
  assert.deepEqual(app.domains.sort(), [customDomain, `${newName}.localhost`].sort());
  assert.deepEqual(await berth.ok('GET', `/apps/${newName}/config`), { GREETING: 'hi' });
  const releases = await berth.ok('GET', `/apps/${newName}/releases`);
  assert.deepEqual(releases.map((r: any) => r.version), [1]);
  assert.equal(releases[0].image, `${registry.address}/${newName}:v1`);
  // Lines logged under the old name are the renamed app's: its stored log is kept by id.
  await eventually('the stored log line from before the rename', async () =>
    berthCli('logs', newName, '--since', '1h', '--grep', 'before-rename').out.includes('request /before-rename'));
  assert.deepEqual(await tags(newName), ['v1']);
  assert.deepEqual(await tags(oldName), [], 'nothing left under the old name');

  // The repository moved: a push to the new name builds on the old history; the old name's remote is gone.
  repos.commitChange(repo, 'server.js', (text) => text.replace("'one '", "'two '"));
  const second = await push(newName);
  assert.equal(second.code, 0, second.output);
  assert.match((await viaRouter(caddy.httpPort, `${newName}.localhost`)).body, /^two /);
  assert.notEqual((await push(oldName)).code, 0);
  // Rollback releases the image under its moved name.
  const rolledBack = await berth.ok('POST', `/apps/${newName}/rollback`, { version: 1 });
  assert.equal(rolledBack.image, `${registry.address}/${newName}:v1`);
  assert.match((await viaRouter(caddy.httpPort, `${newName}.localhost`)).body, new RegExp(`^one ${newName}`));
});

test('a later app of the old name starts with nothing of the renamed one', async () => {
  await berth.ok('POST', '/apps', { name: oldName });
  assert.deepEqual(await berth.ok('GET', `/apps/${oldName}/releases`), []);
  assert.deepEqual(await berth.ok('GET', `/apps/${oldName}/config`), {});
  assert.deepEqual(await tags(oldName), []);
  assert.equal((await viaRouter(caddy.httpPort, `${oldName}.localhost`)).status, 503);
});
