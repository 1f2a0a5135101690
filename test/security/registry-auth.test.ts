// Issue 14, hole 8: Berth's registry once it listens beyond loopback (BERTH_REGISTRY_LISTEN). `berth up`'s own
// registry steps run here in a sandbox (temp dirs), bound to 127.0.0.2 with BERTH_REGISTRY_AUTH=on: the
// same code path as a registry on a private address (auto turns auth on there; the decision itself is tested
// on its own, since this machine's tests may bind loopback only). Anonymous clients can neither list, pull
// nor delete; Berth's pushes and prunes present the credential `berth up` made and work.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/ports.ts';
import { TEST_IMAGE, uniqueName } from '../support/berth.ts';
import { RegistryClient } from '../../src/registry/index.ts';
import { RegistryApi } from '../../src/registry/api.ts';
import { loadRegistryCredential } from '../../src/registry/credentials.ts';
import { loadAppliance } from '../../src/appliance/load.ts';
import { resolveAppliance } from '../../src/appliance/settings.ts';
import { registryNeedsAuth } from '../../src/appliance/services.ts';
import { prepareDirs, registryTasks, runUpTasks } from '../../src/appliance/up-tasks.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sandbox(extraEnv: Record<string, string>) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-upregistry-'));
  const env = {
    ...process.env, BERTH_ETC_DIR: path.join(root, 'etc'), BERTH_DATA_DIR: path.join(root, 'data'),
    BERTH_RUN_DIR: path.join(root, 'run'), BERTH_LOG_DIR: path.join(root, 'log'),
    // The credential is made by the built executable's `berth server registry-auth` (scripts/up.sh builds it).
    BERTH_EXECUTABLE: path.join(ROOT, 'dist', 'berth'),
    ...extraEnv,
  };
  // scripts/down.sh's stop.
  const sh = (script: string) => spawnSync('bash', ['-c', `source scripts/lib.sh && ${script}`],
    { cwd: ROOT, env, encoding: 'utf8', timeout: 90_000 });
  return { root, env, sh };
}

test('auth is on for every listen address but loopback (auto), and BERTH_REGISTRY_AUTH overrides it', () => {
  const cases: [string, string, boolean][] = [
    ['127.0.0.1:5000', 'auto', false], ['[::1]:5000', 'auto', false], ['localhost:5000', 'auto', false],
    ['0.0.0.0:5000', 'auto', true], [':5000', 'auto', true], ['10.0.0.5:5000', 'auto', true], ['[fd00::5]:5000', 'auto', true],
    ['127.0.0.1:5000', 'on', true], ['0.0.0.0:5000', 'off', false],
  ];
  for (const [listen, mode, expected] of cases) {
    const appliance = resolveAppliance({ BERTH_REGISTRY_LISTEN: listen, BERTH_REGISTRY_AUTH: mode }, null);
    assert.equal(registryNeedsAuth(appliance), expected, `${listen} ${mode}`);
  }
  assert.throws(() => registryNeedsAuth(resolveAppliance({ BERTH_REGISTRY_AUTH: 'maybe' }, null)), /BERTH_REGISTRY_AUTH must be auto, on or off/);
});

describe('a registry beyond loopback requires Berth\'s credential', () => {
  const app = uniqueName('regauth');
  let address = '';
  let box: ReturnType<typeof sandbox>;
  // berth up's registry steps (its config and credential, then the registry itself), in the sandbox.
  const ensureRegistry = async () => {
    const appliance = loadAppliance(box.env);
    prepareDirs(appliance);
    let out = '';
    const summary = await runUpTasks(registryTasks(appliance), (line) => { out += line; });
    assert.ok(summary.succeeded, out);
    return out;
  };
  const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000 });

  before(async () => {
    address = `127.0.0.2:${await freePort()}`;
    box = sandbox({ BERTH_REGISTRY_LISTEN: address, BERTH_REGISTRY_AUTH: 'on' });
  });

  after(() => {
    if (box) {
      box.sh(`stop_daemon registry "$BERTH_RUN_DIR/registry.pid" "$REGISTRY_PID_WORD" 20`);
      fs.rmSync(box.root, { recursive: true, force: true });
    }
    docker('rmi', `${address}/${app}:v1`, `${address}/${app}:v2`);
  });

  test('berth up\'s registry steps make the credential (0600), the htpasswd and a config with auth; a second run changes nothing', async () => {
    const out = await ensureRegistry();
    assert.match(out, /\[changed\] wrote .*registry\.htpasswd/);
    assert.match(out, /\[changed\] started registry/);
    const credentialFile = path.join(box.env.BERTH_DATA_DIR, 'registry-credential');
    assert.equal(fs.statSync(credentialFile).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(path.join(box.env.BERTH_ETC_DIR, 'registry.yml'), 'utf8'), /auth:\n {2}htpasswd:\n {4}realm: berth-registry\n {4}path: .*registry\.htpasswd/);
    assert.match(fs.readFileSync(path.join(box.env.BERTH_ETC_DIR, 'registry.htpasswd'), 'utf8'), /^berth:\$2[aby]\$10\$/);
    assert.match(await ensureRegistry(), /\[ok\] registry running/);
  });

  test('anonymous clients cannot list, read or delete; the credential opens it, a wrong one does not', async () => {
    for (const [method, route] of [['GET', '/v2/_catalog'], ['GET', `/v2/${app}/tags/list`], ['DELETE', `/v2/${app}/manifests/sha256:${'0'.repeat(64)}`]]) {
      const res = await fetch(`http://${address}${route}`, { method });
      assert.equal(res.status, 401, `${method} ${route}`);
    }
    const credential = loadRegistryCredential(box.env.BERTH_DATA_DIR)!;
    assert.deepEqual(await new RegistryApi(address, credential).listTags(app), []);
    await assert.rejects(new RegistryApi(address, { ...credential, password: 'guess' }).listTags(app), /HTTP 401/);
    await assert.rejects(new RegistryApi(address).listTags(app), /HTTP 401/);
  });

  test('Berth pushes and prunes with the credential; an engine without it cannot pull or push', async () => {
    const credential = loadRegistryCredential(box.env.BERTH_DATA_DIR)!;
    const client = new RegistryClient({ socketPath: '/var/run/docker.sock', registry: address, credential });
    for (const tag of ['v1', 'v2']) execFileSync('docker', ['tag', TEST_IMAGE, `${address}/${app}:${tag}`]);
    const { digest } = await client.push(`${address}/${app}:v1`, () => {});
    assert.match(digest, /^sha256:/);
    await client.push(`${address}/${app}:v2`, () => {});
    assert.deepEqual((await new RegistryApi(address, credential).listTags(app)).sort(), ['v1', 'v2']);

    const anonymous = new RegistryClient({ socketPath: '/var/run/docker.sock', registry: address });
    await assert.rejects(anonymous.push(`${address}/${app}:v2`, () => {}), /no basic auth credentials|unauthorized|authentication required/i);
    docker('rmi', `${address}/${app}:v1`);
    const pull = docker('pull', `${address}/${app}:v1`);
    assert.notEqual(pull.status, 0, 'an engine without the credential cannot pull');
    assert.match(pull.stderr, /no basic auth credentials|unauthorized|authentication required/i);

    // v1 and v2 are one image (one manifest): pruning deletes it with both tags.
    assert.deepEqual((await client.prune(app, [])).sort(), ['v1', 'v2']);
    assert.deepEqual(await new RegistryApi(address, credential).listTags(app), []);
  });
});
