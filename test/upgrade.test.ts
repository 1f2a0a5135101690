// `berth upgrade` with real builds: three executables are built from this tree (two release labels, and one
// whose embedded SQLite addon is not loadable, as a build for the wrong machine would be), the first is
// installed and its server started as `berth up` starts it (a daemon with a pid file), an app answers through
// Caddy, and under continuous traffic: the upgrade to the second build, then one to the broken build, which
// must fail its health check and roll back. Not one request through Caddy may fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildExecutable } from '../scripts/build-executable.mjs';
import { buildWebAssets } from '../scripts/build-web.mjs';
import { loadAppliance } from '../src/appliance/load.ts';
import { readPid } from '../src/appliance/host.ts';
import { serverPidFile, startServer, stopServer, waitForServer } from '../src/appliance/server-service.ts';
import { startCaddy } from './support/caddy.ts';
import { startRegistry } from './support/registry.ts';
import { appDnsEnv, issueAdminToken, portBlock, viaRouter } from './support/berth.ts';
import { freePort } from './support/ports.ts';
import { testNetworkSubnet } from './support/network.ts';
import { underTraffic } from './support/traffic.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const OLD = '0.1.0-upgrade.1';
const NEW = '0.1.0-upgrade.2';
const BROKEN = '0.1.0-upgrade.broken';

test('berth upgrade swaps the executable under traffic, and rolls back a build that fails its health check', { timeout: 480_000 }, async (t) => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'berth-upgrade-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // Real builds of this tree, as `npm run build` makes dist/berth, each with its own version label.
  const addonSrc = [
    path.join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
    path.join(ROOT, `node_modules/better-sqlite3/prebuilds/${process.platform}-${process.arch}.node`),
  ].find((file) => existsSync(file))!;
  const notAnAddon = path.join(work, 'not-an-addon.node');
  writeFileSync(notAnAddon, 'not a shared object');
  const { files: webFiles } = await buildWebAssets();
  const buildStarted = performance.now();
  const builds: Record<string, string> = {};
  for (const [version, addon] of [[OLD, addonSrc], [NEW, addonSrc], [BROKEN, notAnAddon]] as const) {
    builds[version] = (await buildExecutable({ root: ROOT, addonSrc: addon, webFiles, out: path.join(work, `berth-${version}`), version })).file;
  }
  t.diagnostic(`3 executables built in ${Math.round(performance.now() - buildStarted)} ms`);

  const caddy = await startCaddy();
  t.after(() => caddy.stop());
  const registry = await startRegistry();
  t.after(() => registry.stop());

  // The installation: its own etc, data, run and log dirs, the executable installed where BERTH_EXECUTABLE says.
  const executable = path.join(work, 'bin', 'berth');
  mkdirSync(path.dirname(executable));
  copyFileSync(builds[OLD], executable);
  const apiPort = await freePort();
  const dirs = Object.fromEntries(['etc', 'data', 'run', 'log'].map((name) => [name, path.join(work, name)]));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    BERTH_ETC_DIR: dirs.etc, BERTH_RUN_DIR: dirs.run, BERTH_LOG_DIR: dirs.log, BERTH_EXECUTABLE: executable,
    BERTH_ACME_CA: 'https://127.0.0.1:9/directory', // never Let's Encrypt from a test
    BERTH_NETWORK_SUBNET: testNetworkSubnet(),
    ...(await appDnsEnv()),
  };
  const settings = {
    BERTH_DATA_DIR: dirs.data, BERTH_API_HOST: '127.0.0.1', BERTH_API_PORT: String(apiPort), BERTH_CADDY_ADMIN: caddy.adminUrl,
    BERTH_HTTP_PORT: String(caddy.httpPort), BERTH_HTTPS_PORT: String(caddy.httpsPort), BERTH_REGISTRY: registry.address,
    BERTH_PORT_RANGE: portBlock(), BERTH_STOP_TIMEOUT: '2', BERTH_HEALTH_TIMEOUT: '20',
  };
  mkdirSync(dirs.etc);
  writeFileSync(path.join(dirs.etc, 'berth.env'), Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  const appliance = loadAppliance(env);
  assert.equal(appliance.executable, executable);
  await startServer(appliance, env);
  t.after(() => stopServer(appliance));
  assert.ok(await waitForServer(appliance, OLD), `the ${OLD} server did not answer`);

  const token = await issueAdminToken([executable, 'server'], { ...env, ...settings });
  const cliEnv = { ...env, BERTH_API_URL: appliance.apiUrl, BERTH_TOKEN: token, BERTH_CONFIG_DIR: path.join(work, 'cli') };
  const berth = (...words: string[]) => run(executable, words, { env: cliEnv, timeout: 180_000 });
  const upgrade = (file: string) => berth('upgrade', file).then(
    (done) => ({ code: 0, stdout: done.stdout, stderr: done.stderr }),
    (err) => ({ code: Number(err.code), stdout: String(err.stdout), stderr: String(err.stderr) }),
  );
  const health = async () => ((await (await fetch(appliance.healthUrl)).json()) as { version: string }).version;

  const app = `upg-${Date.now().toString(36)}`;
  await berth('apps:create', app);
  try {
    await berth('deploy', app, '--image', 'berth-test/hello:latest');
    assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`)).status, 200, 'the app answers through Caddy');
    const traffic = { port: caddy.httpPort, host: `${app}.localhost`, clients: 2, maxMs: 150_000 };

    // Not a berth build: refused before anything is touched.
    const serverPid = readPid(serverPidFile(appliance));
    const refused = await upgrade('/bin/true');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not a berth executable .*nothing changed/);
    assert.equal(readPid(serverPidFile(appliance)), serverPid, 'the server was not restarted');

    // One upgrade at a time: while another holds the lock (a live process whose argv says upgrade), refused.
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', 'upgrade'], { stdio: 'ignore' });
    try {
      writeFileSync(path.join(appliance.dataDir, 'upgrade.pid'), `${holder.pid}\n`);
      const locked = await upgrade(builds[NEW]);
      assert.equal(locked.code, 1);
      assert.match(locked.stderr, new RegExp(`another berth upgrade \\(pid ${holder.pid}\\) is running; nothing changed`));
      assert.equal(readPid(serverPidFile(appliance)), serverPid, 'the server was not restarted');
    } finally {
      holder.kill('SIGKILL');
    }
    // A lock left by an upgrade that died is taken over (the upgrade below must find it stale).

    // `berth upgrade FILE` while clients keep requesting the app through Caddy.
    const upgradeUnderTraffic = async (file: string) => {
      let result = { code: -1, stdout: '', stderr: '' };
      let ms = 0;
      const report = await underTraffic(traffic, async () => {
        const started = performance.now();
        result = await upgrade(file);
        ms = Math.round(performance.now() - started);
      });
      return { result, ms, report };
    };

    const { result: upgraded, ms: upgradeMs, report: during } = await upgradeUnderTraffic(builds[NEW]);
    assert.equal(upgraded.code, 0, `berth upgrade failed:\n${upgraded.stdout}${upgraded.stderr}`);
    assert.match(upgraded.stdout, new RegExp(`\\[changed\\] upgraded berth ${OLD} -> ${NEW}`));
    assert.deepEqual(during.failures, [], 'no request through Caddy failed during the upgrade');
    assert.ok(during.total > 0);
    assert.match((await berth('version')).stdout, new RegExp(`^berth ${NEW} `), 'berth version shows the new build');
    assert.equal(await health(), NEW, 'the server answering is the new build');
    assert.ok(existsSync(`${executable}.previous`), 'the previous executable is kept');
    t.diagnostic(`upgrade ${OLD} -> ${NEW}: ${upgradeMs} ms, ${during.total} requests through Caddy, ${during.failures.length} failed, ${during.retried} retried`);

    const { result: rolledBack, ms: rollbackMs, report: duringRollback } = await upgradeUnderTraffic(builds[BROKEN]);
    assert.equal(rolledBack.code, 1, `the broken build was not refused:\n${rolledBack.stdout}${rolledBack.stderr}`);
    assert.match(rolledBack.stderr, new RegExp(`the new server \\(berth ${BROKEN}\\) failed its health check`));
    assert.match(rolledBack.stdout, new RegExp(`\\[changed\\] rolled back to berth ${NEW}`));
    assert.deepEqual(duringRollback.failures, [], 'no request through Caddy failed during the failed upgrade and its rollback');
    assert.match((await berth('version')).stdout, new RegExp(`^berth ${NEW} `), 'the installed executable is the working build again');
    assert.equal(await health(), NEW, 'the server answering is the working build');
    assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`)).status, 200);
    t.diagnostic(`failed upgrade to ${BROKEN} and rollback: ${rollbackMs} ms, ${duringRollback.total} requests through Caddy, ${duringRollback.failures.length} failed`);
  } finally {
    await berth('apps:destroy', app, '--confirm', app);
  }
});
