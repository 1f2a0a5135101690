// Berth backs itself up and comes back on a new installation: a populated installation (two apps with git
// history, config, a custom domain, a member with a token, an alert) is backed up while it serves, destroyed
// completely (server, containers, networks, images, registry, Caddy state, data dir), and restored into a new
// installation on the same engine with its own data dir, registry and Caddy: every app answers through
// Caddy at the same release with the same config, releases, stored logs and git history are intact, the old tokens
// work. Damaged archives, a backup without its key and a member are refused with nothing changed.
// admin:check finds an orphan container and a missing image. An add-on's service comes back empty on the new
// installation (its data is in its own backups, not in the archive) and its backup, copied over, restores it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { postSlowly, slowUpload } from './support/slow-upload.ts';
import { startCaddy, type TestCaddy } from './support/caddy.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { gitPush } from './support/git-push.ts';
import { runCli } from './support/cli.ts';
import { gitEnv } from './support/git-env.ts';
import { ScratchRepos } from './support/scratch-repos.ts';
import { TEST_IMAGE, eventually, startBerth, uniqueName, viaRouter, type BerthServer } from './support/berth.ts';

const run = promisify(execFile);
const ENV = { BERTH_STACK_GENERIC: 'berth/node:24', BERTH_WEBHOOK_ALLOW: '127.0.0.0/8' };
const SERVER = `require('node:http').createServer((q, r) => r.end(process.env.GREETING + ' from ' + process.env.BERTH_RELEASE + '\\n')).listen(process.env.PORT);\n`;

const appA = uniqueName('bka');
const appB = uniqueName('bkb');
const appC = uniqueName('bkc');
const cache = `${appC}-redis`;
let cacheBackup = '';
const domain = `${appB}.example.test`;
let work: string;
let repos: ScratchRepos;
const repoOf: Record<string, string> = {};
let old: { caddy: TestCaddy; registry: TestRegistry; berth: BerthServer } | null = null;
let fresh: { caddy: TestCaddy; registry: TestRegistry; berth: BerthServer } | null = null;
let memberToken = '';
let keyFileText = '';
let oldAdminToken = '';
/** The live release of each app before the backup. */
const current = (app: string) => (before_.releases[app] as Array<[number, string, string, boolean]>).find((r) => r[3])![0];
let archiveWithKey = '';
let archiveNoKey = '';
const before_: { releases: Record<string, unknown[]>; gitLog: Record<string, string>; config: Record<string, unknown>; formation: Record<string, unknown>; users: string[] } = {
  releases: {}, gitLog: {}, config: {}, formation: {}, users: [],
};

async function installation() {
  const caddy = await startCaddy();
  const registry = await startRegistry();
  const berth = await startBerth(caddy, { ...ENV, BERTH_REGISTRY: registry.address });
  return { caddy, registry, berth };
}

const owner = (berth: BerthServer) => fs.readFileSync(path.join(berth.dataDir, 'installation-id'), 'utf8').trim();
const docker = async (...args: string[]) => (await run('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
const gitLog = (repo: string) => execFileSync('git', ['-C', repo, 'log', '--format=%H %s', 'main'], { encoding: 'utf8', env: gitEnv() });

const cli = (berth: BerthServer, token: string, ...args: string[]) => runCli({ url: berth.url, token, home: work }, args);

/** The backup through the API as a file (what `berth admin:backup > file` writes). */
async function downloadBackup(berth: BerthServer, file: string, query = ''): Promise<void> {
  const res = await fetch(`${berth.url}/api/v1/admin/backup${query}`, { headers: { authorization: `Bearer ${berth.token}` } });
  assert.equal(res.status, 200, await res.clone().text().catch(() => ''));
  fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
}

const MARK = `/before-backup-${Math.random().toString(36).slice(2, 8)}`;
/** Stored log lines of app A that mention MARK (the router's line for a request made before the backup). */
async function markedLines(berth: BerthServer): Promise<string[]> {
  const res = await berth.api('GET', `/apps/${appA}/logs?${new URLSearchParams({ since: '1h', grep: MARK })}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  return text.trim() ? text.trim().split('\n') : [];
}

async function uploadRestore(berth: BerthServer, body: Buffer, token = berth.token): Promise<{ status: number; body: any }> {
  const res = await fetch(`${berth.url}/api/v1/admin/restore`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: new Uint8Array(body) });
  return { status: res.status, body: await res.json() };
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-backup-'));
  repos = new ScratchRepos(work, work);
  old = await installation();
  const berth = old.berth;
  for (const app of [appA, appB]) {
    await berth.ok('POST', '/apps', { name: app });
    repoOf[app] = repos.create({ Procfile: 'web: node server.js\n', 'server.js': SERVER });
    repos.git(repoOf[app], 'branch', '-M', 'main');
    repos.git(repoOf[app], 'remote', 'add', 'paas', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${app}.git`);
  }
  await berth.ok('PATCH', `/apps/${appA}/config`, { GREETING: 'hello-a', SECRET_TOKEN: 's3cr3t' });
  await berth.ok('PATCH', `/apps/${appB}/config`, { GREETING: 'hello-b' });
  for (const app of [appA, appB]) {
    const pushed = await gitPush(repoOf[app], 'paas', 'main');
    assert.equal(pushed.code, 0, pushed.output);
  }
  repos.commitChange(repoOf[appA], 'server.js', (text) => text.replace("' from '", "' (second) from '"));
  const second = await gitPush(repoOf[appA], 'paas', 'main');
  assert.equal(second.code, 0, second.output);
  await berth.ok('POST', `/apps/${appB}/domains`, { hostname: domain });
  memberToken = (await berth.ok('POST', '/users', { name: 'mia', role: 'member' })).token;
  await berth.ok('POST', `/apps/${appA}/access`, { user: 'mia' });
  await berth.ok('POST', `/apps/${appA}/alerts`, { rule: 'memory > 400MB for 5m', webhook: 'http://127.0.0.1:9/hook' });
  keyFileText = fs.readFileSync(path.join(berth.dataDir, 'secrets.key'), 'utf8');
  oldAdminToken = berth.token;
  for (const app of [appA, appB]) {
    before_.releases[app] = (await berth.ok('GET', `/apps/${app}/releases`)).map((r: any) => [r.version, r.description, r.status, r.current]);
    before_.gitLog[app] = gitLog(path.join(berth.dataDir, 'repos', `${app}.git`));
    before_.config[app] = await berth.ok('GET', `/apps/${app}/config`);
    before_.formation[app] = await berth.ok('GET', `/apps/${app}/formation`);
  }
  before_.users = (await berth.ok('GET', '/users')).map((u: any) => `${u.name}:${u.role}`).sort();
  // App C has a Redis add-on holding a key, and a backup of it in the installation's backup store.
  await berth.ok('POST', '/apps', { name: appC });
  const created = await cli(berth, berth.token, 'addons:create', appC, 'redis', '--name', cache);
  assert.equal(created.code, 0, created.err + created.out);
  await redis(cache, 'SET', 'greeting', 'kept');
  const captured = await cli(berth, berth.token, 'backups:capture', cache);
  cacheBackup = /done, (b\d{3,})/.exec(captured.out)?.[1] ?? assert.fail(`no backup id in: ${captured.out}${captured.err}`);
});

/** redis-cli inside the add-on's container, with the password its environment holds. */
const redis = (name: string, ...args: string[]) => docker('exec', `berth-addon-${name}`, 'sh', '-c', 'REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli "$@"', 'redis-cli', ...args);

after(async () => {
  for (const side of [fresh, old]) {
    if (!side) continue;
    for (const app of [appA, appB, appC]) await side.berth.api('DELETE', `/apps/${app}`, { confirm: app }).catch(() => {});
    await side.berth.kill('SIGTERM');
    await side.registry.stop();
    await side.caddy.stop();
    fs.rmSync(side.berth.dataDir, { recursive: true, force: true });
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the populated installation answers, and only an admin may back it up', async () => {
  const { berth, caddy } = old!;
  assert.equal((await viaRouter(caddy.httpPort, `${appA}.localhost`)).body, `hello-a (second) from v${current(appA)}\n`);
  assert.equal((await viaRouter(caddy.httpPort, domain)).body, `hello-b from v${current(appB)}\n`);
  await viaRouter(caddy.httpPort, `${appA}.localhost`, MARK);
  await eventually('the request is in the log store', async () => (await markedLines(berth)).length > 0);
  const refused = await berth.api('GET', '/admin/backup', undefined, memberToken);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error, 'forbidden');
});

test('a backup download cancelled mid-way ends that backup; the server keeps serving and leaves no staging', async () => {
  const { berth } = old!;
  const res = await fetch(`${berth.url}/api/v1/admin/backup`, { headers: { authorization: `Bearer ${berth.token}` } });
  const reader = res.body!.getReader();
  await reader.read();
  await reader.cancel();
  await eventually('the cancelled backup cleaned up', async () => fs.readdirSync(berth.dataDir).every((f) => !f.startsWith('.backup-')));
  assert.equal((await berth.api('GET', '/health')).status, 200);
  assert.match(berth.output, /backup failed: /, berth.output.slice(-2000));
});

test('admin:backup streams a whole archive while the apps serve; the key only with --include-key', async () => {
  const { berth } = old!;
  archiveNoKey = path.join(work, 'berth-backup.tar');
  const started = Date.now();
  const made = await cli(berth, berth.token, 'admin:backup', '--output', archiveNoKey);
  assert.equal(made.code, 0, made.err);
  assert.match(made.err, /It holds no secrets key/);
  const tookMs = Date.now() - started;
  archiveWithKey = path.join(work, 'berth-backup-with-key.tar');
  await downloadBackup(berth, archiveWithKey, '?include-key=true');
  const list = (file: string) => execFileSync('tar', ['-tf', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n');
  const names = list(archiveNoKey);
  assert.ok(names.includes('db/berth.db') && names.at(-2) === 'manifest.json', names.slice(-3).join(','));
  assert.ok(names.some((n) => n.startsWith(`repos/${appA}.git/objects/`)) && names.some((n) => n.startsWith('registry/blobs/sha256/')));
  assert.ok(names.some((n) => /^builds\/\d+\.log$/.test(n)), 'build logs');
  assert.ok(!names.includes('key/secrets.key'));
  assert.ok(list(archiveWithKey).includes('key/secrets.key'));
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', archiveNoKey, 'manifest.json'], { encoding: 'utf8' }));
  assert.deepEqual([...manifest.apps].sort(), [appA, appB, appC].sort());
  assert.equal(manifest.includesKey, false);
  assert.ok(manifest.images.length >= 3, 'both apps\' kept releases (A has two builds)');
  const audit = await berth.ok('GET', '/audit?limit=20');
  assert.ok(audit.some((e: any) => e.action === 'GET /admin/backup' && e.detail === 'with the secrets key'), JSON.stringify(audit.slice(0, 3)));
  console.log(`backup of 3 apps: ${fs.statSync(archiveNoKey).size} bytes in ${tookMs} ms (CLI, to a file)`);
});

/** Everything an installation had: its server, containers, networks, image tags, registry, Caddy state and data dir. */
async function destroy(side: { caddy: TestCaddy; registry: TestRegistry; berth: BerthServer }): Promise<void> {
  const { berth, registry, caddy } = side;
  const id = owner(berth);
  await berth.kill('SIGTERM');
  const containers = (await docker('ps', '-aq', '--filter', `label=berth.owner=${id}`)).split('\n').filter(Boolean);
  if (containers.length) await docker('rm', '-f', ...containers);
  const volumes = (await docker('volume', 'ls', '-q', '--filter', `label=berth.owner=${id}`)).split('\n').filter(Boolean);
  if (volumes.length) await docker('volume', 'rm', '-f', ...volumes);
  const networks = (await docker('network', 'ls', '-q', '--filter', `name=berth-${id}-`)).split('\n').filter(Boolean);
  if (networks.length) await docker('network', 'rm', ...networks);
  const images = (await docker('images', '--format', '{{.Repository}}:{{.Tag}}')).split('\n').filter((ref) => ref.startsWith(`${registry.address}/`));
  if (images.length) await docker('rmi', '-f', ...images);
  await registry.stop();
  await caddy.stop();
  fs.rmSync(berth.dataDir, { recursive: true, force: true });
}

test('the old installation is destroyed completely', async () => {
  // Add-on backups are not in the archive: an admin keeps BERTH_DATA_DIR/backups (or uses S3) and brings it along.
  fs.cpSync(path.join(old!.berth.dataDir, 'backups'), path.join(work, 'addon-backups'), { recursive: true });
  await destroy(old!);
  old = null;
});

test('damaged archives, a missing key and a member are refused; the new installation is unchanged', async () => {
  fresh = await installation();
  const { berth, registry } = fresh;
  const whole = fs.readFileSync(archiveWithKey);
  const truncated = await uploadRestore(berth, whole.subarray(0, Math.floor(whole.length * 0.6)));
  assert.equal(truncated.status, 422, JSON.stringify(truncated.body));
  assert.equal(truncated.body.error, 'backup_invalid');
  assert.match(truncated.body.message, /truncated|manifest/);
  const corrupted = Buffer.from(whole);
  const dbHeader = corrupted.indexOf(Buffer.from('db/berth.db\0'));
  corrupted[dbHeader + 512 + 2000] ^= 0x20; // one byte inside the database entry
  const altered = await uploadRestore(berth, corrupted);
  assert.equal(altered.status, 422, JSON.stringify(altered.body));
  assert.match(altered.body.message, /db\/berth\.db does not match its checksum/);
  const noKey = await uploadRestore(berth, fs.readFileSync(archiveNoKey));
  assert.equal(noKey.status, 422, JSON.stringify(noKey.body));
  assert.equal(noKey.body.error, 'secrets_key_needed');
  assert.match(noKey.body.message, /--key-file/);
  // An archive shaped to climb out of the staging folder (an admin's upload is untrusted input too).
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const packed = (async () => { for await (const chunk of Readable.from(pack)) chunks.push(chunk as Buffer); })();
  pack.entry({ name: 'repos/../../escaped-by-restore' }, Buffer.from('x'));
  pack.finalize();
  await packed;
  const hostile = Buffer.concat(chunks);
  const climbing = await uploadRestore(berth, hostile);
  assert.equal(climbing.status, 422, JSON.stringify(climbing.body));
  assert.match(climbing.body.message, /"\.\." path segment/);
  assert.ok(!fs.existsSync(path.join(path.dirname(berth.dataDir), 'escaped-by-restore')) && !fs.existsSync(path.join(berth.dataDir, 'escaped-by-restore')));
  // Refused at its first entry while the rest is still on its way (1 MB every 40 ms for ~1 s): the server reads
  // the rest and drops it, and answers only then. Answered at once, the HTTP server would cut the connection
  // 500 ms later with the client still sending, and a loaded client saw EPIPE instead of the refusal.
  const early = await postSlowly(`${berth.url}/api/v1/admin/restore`, berth.token, slowUpload(new Uint8Array(hostile)));
  assert.equal(early.res.status, 422);
  assert.match((await early.res.json()).message, /"\.\." path segment/);
  assert.ok(early.afterEndMs >= 0, 'answered before the upload ended');
  // Nothing changed: no app, no repository, no image, no staging left behind.
  assert.deepEqual(await berth.ok('GET', '/apps'), []);
  assert.ok(!fs.existsSync(path.join(berth.dataDir, 'repos', `${appA}.git`)));
  assert.deepEqual(fs.readdirSync(berth.dataDir).filter((f) => f.startsWith('.restore-')), []);
  assert.equal((await fetch(`http://${registry.address}/v2/${appA}/tags/list`)).status, 404);
});

test('admin:restore brings every app back on the new installation, answering through Caddy as before', async () => {
  const { berth, caddy } = fresh!;
  const keyFile = path.join(work, 'old-secrets.key');
  fs.writeFileSync(keyFile, keyFileText, { mode: 0o600 });
  const started = Date.now();
  const restored = await cli(berth, berth.token, 'admin:restore', archiveNoKey, '--key-file', keyFile);
  assert.equal(restored.code, 0, `${restored.out}\n${restored.err}\n${berth.output.slice(-3000)}`);
  console.log(`restore of 3 apps (verify, push and pull images, files, rows, apps and the add-on started): ${Date.now() - started} ms (CLI)`);
  assert.match(restored.out, /3 app\(s\), \d+ image\(s\); secrets key from the supplied/);
  assert.match(restored.out, new RegExp(`Add-on services started again: ${cache}\\.`));
  // The old admin's token is the admin now; the new installation's own token went with its rows.
  const oldAdmin = (await berth.api('GET', '/users/me', undefined, berth.token));
  assert.equal(oldAdmin.status, 401, 'the new installation\'s token was replaced by the backup\'s');
  berth.token = oldAdminToken;
  for (const app of [appA, appB]) {
    assert.deepEqual((await berth.ok('GET', `/apps/${app}/releases`)).map((r: any) => [r.version, r.description, r.status, r.current]), before_.releases[app], app);
    assert.deepEqual(await berth.ok('GET', `/apps/${app}/config`), before_.config[app], app);
    assert.deepEqual(await berth.ok('GET', `/apps/${app}/formation`), before_.formation[app], app);
    assert.equal(gitLog(path.join(berth.dataDir, 'repos', `${app}.git`)), before_.gitLog[app], app);
  }
  const answers = async (host: string, expected: string) => {
    let last = '';
    try {
      await eventually(`${host} answers "${expected.trim()}" through the new Caddy`, async () => (last = (await viaRouter(caddy.httpPort, host)).body) === expected, 60_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last answer: ${JSON.stringify(last)}\n--- server ---\n${berth.output.slice(-4000)}`);
    }
  };
  await answers(`${appA}.localhost`, `hello-a (second) from v${current(appA)}\n`);
  await answers(domain, `hello-b from v${current(appB)}\n`);
  assert.deepEqual((await berth.ok('GET', '/users')).map((u: any) => `${u.name}:${u.role}`).sort(), before_.users);
  assert.equal((await berth.api('GET', `/apps/${appA}`, undefined, memberToken)).status, 200, 'the member\'s old token works');
  assert.equal((await berth.api('GET', `/apps/${appB}`, undefined, memberToken)).status, 404, 'and still sees only its apps');
  assert.ok((await markedLines(berth)).length > 0, 'stored logs came back');
  const alerts = await berth.ok('GET', `/apps/${appA}/alerts`);
  assert.equal(alerts.length, 1);
  assert.deepEqual((await berth.ok('GET', `/apps/${appB}/domains`)).map((d: any) => d.hostname).filter((h: string) => h === domain), [domain]);
  const audit = await berth.ok('GET', '/audit?limit=5');
  assert.ok(audit.some((e: any) => e.action === 'POST /admin/restore' && e.status === 200), JSON.stringify(audit.slice(0, 3)));
  // git keeps working: clone with the old token, push a new commit, it goes live.
  const clone = path.join(work, 'clone-a');
  execFileSync('git', ['clone', '-q', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${appA}.git`, clone], { env: gitEnv() });
  assert.equal(gitLog(clone), before_.gitLog[appA]);
});

test('the add-on is back, empty; its backup copied into the new backup store restores its data', async () => {
  const { berth } = fresh!;
  // Its engine health check says "up" at its next interval (the service accepted connections already).
  await eventually('the add-on up', async () => new RegExp(`redis\\s+${cache}\\s+up`).test((await cli(berth, berth.token, 'addons', appC)).out), 60_000);
  assert.equal(await redis(cache, 'GET', 'greeting'), '', 'a new machine\'s volume: empty');
  fs.cpSync(path.join(work, 'addon-backups'), path.join(berth.dataDir, 'backups'), { recursive: true });
  const restored = await cli(berth, berth.token, 'backups:restore', cache, cacheBackup, '--confirm', cache);
  assert.equal(restored.code, 0, restored.err + restored.out);
  assert.equal(await redis(cache, 'GET', 'greeting'), 'kept');
});

test('a member cannot restore; a restore onto an installation with apps is refused', async () => {
  const { berth } = fresh!;
  const member = await uploadRestore(berth, fs.readFileSync(archiveWithKey), memberToken);
  assert.equal(member.status, 403);
  const again = await uploadRestore(berth, fs.readFileSync(archiveWithKey));
  assert.equal(again.status, 409);
  assert.equal(again.body.error, 'installation_not_empty');
});

test('admin:check finds an orphan container and a live release whose image is gone', async () => {
  const { berth, registry } = fresh!;
  const clean = await berth.ok('GET', '/admin/check');
  assert.equal(clean.database.ok, true);
  assert.deepEqual(clean.missingImages, []);
  assert.deepEqual(clean.orphanContainers, []);
  const diskA = clean.disk.find((d: any) => d.app === appA);
  assert.ok(diskA.repoBytes > 0 && diskA.buildLogBytes > 0, JSON.stringify(diskA));
  const ghost = uniqueName('ghost');
  const container = await docker('create', '--label', 'berth.managed=1', '--label', `berth.owner=${owner(berth)}`, '--label', `berth.app=${ghost}`, TEST_IMAGE);
  try {
    const live = (await berth.ok('GET', `/apps/${appB}/releases`)).find((r: any) => r.current);
    assert.ok(live.image.startsWith(`${registry.address}/${appB}:`), `image refs follow the new registry: ${live.image}`);
    const tag = String(live.image).split(':').pop();
    const head = await fetch(`http://${registry.address}/v2/${appB}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
    const digest = head.headers.get('docker-content-digest');
    assert.ok(digest, `registry has ${appB}:${tag}`);
    assert.equal((await fetch(`http://${registry.address}/v2/${appB}/manifests/${digest}`, { method: 'DELETE' })).status, 202);
    const report = await cli(berth, berth.token, 'admin:check');
    assert.match(report.out, new RegExp(`${ghost}`));
    assert.match(report.out, new RegExp(`${appB} v\\d+ .*: not in the registry`));
    assert.match(report.out, /Problems found/);
    const json = await berth.ok('GET', '/admin/check');
    assert.equal(json.ok, false);
    assert.deepEqual(json.orphanContainers.map((c: any) => c.app), [ghost]);
    assert.deepEqual(json.missingImages.map((m: any) => m.app), [appB]);
    assert.equal((await berth.api('GET', '/admin/check', undefined, memberToken)).status, 403);
  } finally {
    await docker('rm', '-f', container);
  }
});

test('an archive made with --include-key restores on another new installation without --key-file', async () => {
  await destroy(fresh!); // app names are the engine's container names: one installation of them at a time
  fresh = null;
  const third = await installation();
  try {
    const res = await uploadRestore(third.berth, fs.readFileSync(archiveWithKey));
    assert.equal(res.status, 200, `${JSON.stringify(res.body)}\n${third.berth.output.slice(-3000)}`);
    assert.equal(res.body.keyFrom, 'backup');
    assert.deepEqual(res.body.failed, []);
    third.berth.token = oldAdminToken;
    assert.deepEqual(await third.berth.ok('GET', `/apps/${appA}/config`), before_.config[appA]);
    const expected = `hello-a (second) from v${current(appA)}\n`;
    await eventually('app A answers through the third Caddy', async () => (await viaRouter(third.caddy.httpPort, `${appA}.localhost`)).body === expected, 60_000);
  } finally {
    await destroy(third);
  }
});
