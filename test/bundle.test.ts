// The shipped artefacts work on their own: `npm run build` produces dist/, the bundled server
// starts from it (loading better_sqlite3.node from beside itself) and the bundled CLI talks to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { startCaddy } from './support/caddy.ts';
import { freePorts } from './support/ports.ts';
import { appDnsEnv, issueAdminToken, viaRouter } from './support/berth.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const dist = (file: string) => path.join(ROOT, 'dist', file);

test('npm run build produces a bundled server and CLI that work from dist/', { timeout: 180_000 }, async (t) => {
  const build = await run(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, timeout: 120_000 });
  t.diagnostic(build.stdout.trim());
  for (const file of ['berth-server.mjs', 'berth.mjs', 'better_sqlite3.node']) {
    assert.ok(existsSync(dist(file)), `dist/${file} was not built`);
  }
  assert.match(readFileSync(dist('berth.mjs'), 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the CLI starts with a shebang');

  const caddy = await startCaddy();
  t.after(() => caddy.stop());
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-bundle-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const [apiPort] = await freePorts(1);
  const apiUrl = `http://127.0.0.1:${apiPort}`;

  // Run from a directory with no node_modules, so nothing can come from the sources' packages.
  let output = '';
  const server = spawn(process.execPath, [dist('berth-server.mjs')], {
    cwd: dataDir,
    env: {
      ...process.env,
      BERTH_DATA_DIR: dataDir,
      BERTH_API_HOST: '127.0.0.1',
      BERTH_API_PORT: String(apiPort),
      BERTH_CADDY_ADMIN: caddy.adminUrl,
      // The private Caddy's listeners, so the test never needs ports 80/443.
      BERTH_HTTP_PORT: String(caddy.httpPort),
      BERTH_HTTPS_PORT: String(caddy.httpsPort),
      BERTH_REGISTRY: registry.address,
      BERTH_ACME_CA: 'https://127.0.0.1:9/directory', // never Let's Encrypt from a test
      ...(await appDnsEnv()),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => { output += d; });
  server.stderr.on('data', (d) => { output += d; });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  t.after(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  });

  const health = await waitForHealth(`${apiUrl}/api/v1/health`, server, () => output);
  assert.equal(health.ok, true);

  // The bundle mints the first admin token itself (issue-admin-token), as up.sh has it do; no file holds one.
  assert.equal(existsSync(path.join(dataDir, 'admin-token')), false, 'no token is left in a file');
  const token = await issueAdminToken(dist('berth-server.mjs'), { BERTH_DATA_DIR: dataDir });
  const cli = await run(process.execPath, [dist('berth.mjs'), 'apps'], {
    cwd: dataDir,
    timeout: 30_000,
    env: { ...process.env, BERTH_API_URL: apiUrl, BERTH_TOKEN: token, BERTH_CONFIG_DIR: path.join(dataDir, 'cli') },
  }).catch((err) => {
    throw new Error(`berth apps failed (exit ${err.code}):\n${err.stdout}${err.stderr}\n--- server output ---\n${output}`);
  });
  t.diagnostic(`berth apps: ${cli.stdout.trim() || '(no output)'}`);

  // git push through the bundle: the pre-receive hook runs the same single file with `git-hook`.
  const app = `bundle-${Date.now().toString(36)}`;
  const cliEnv = { ...process.env, BERTH_API_URL: apiUrl, BERTH_TOKEN: token, BERTH_CONFIG_DIR: path.join(dataDir, 'cli') };
  await run(process.execPath, [dist('berth.mjs'), 'apps:create', app], { cwd: dataDir, timeout: 30_000, env: cliEnv });
  // Destroyed here, not in an after hook: those run in the order registered, so Caddy (needed to take
  // the route down) would already be gone and the app's container would outlive the test.
  try {
    const repo = path.join(dataDir, 'site');
    cpSync(path.join(ROOT, 'test/fixtures/push/static-site'), repo, { recursive: true });
    // .dockerignore is applied in a worker thread, which the bundle starts from its own file.
    writeFileSync(path.join(repo, '.dockerignore'), 'secret-*.txt\n');
    writeFileSync(path.join(repo, 'secret-key.txt'), 'not for the image\n');
    writeFileSync(path.join(repo, 'public.txt'), 'for everyone\n');
    for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-qm', 'site']]) {
      await run('git', args, { cwd: repo, timeout: 30_000, env: gitEnv() });
    }
    const pushed = await run('git', ['push', `http://berth:${token}@127.0.0.1:${apiPort}/git/${app}.git`, 'main'], { cwd: repo, timeout: 120_000, env: gitEnv() })
      .catch((err) => { throw new Error(`git push failed:\n${err.stderr}\n--- server output ---\n${output}`); });
    assert.match(pushed.stderr, /remote: -----> v1 deployed to/);
    assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`, '/public.txt')).body, 'for everyone\n');
    assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`, '/secret-key.txt')).status, 404, '.dockerignore kept it out of the image');
  } finally {
    await run(process.execPath, [dist('berth.mjs'), 'apps:destroy', app, '--confirm', app], { cwd: dataDir, timeout: 60_000, env: cliEnv });
  }
});

/** Polls the health route for up to 60 s; fails at once, with the server's output, if it exits. */
async function waitForHealth(url: string, child: ReturnType<typeof spawn>, output: () => string): Promise<{ ok: boolean }> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`dist/berth-server.mjs exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return (await res.json()) as { ok: boolean };
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within 60 s:\n${output()}`);
}
