// Push-to-live of a small Node app (issue 3): from `git push` starting until the new version answers
// through Caddy, for the first build and for cached rebuilds after a one-line change. Each push is broken
// down by when its `remote:` lines arrived (receive / build / registry push / release phase / start+health /
// switch). Baseline in the same run, alternating with the pushes: the floor any PaaS pays for the same change,
// the same one-line edit to the same tree, `docker build` (dependencies cached, the source copy and build step
// run again) plus `docker run` until it answers. Versions carry a per-run id, so no build (Berth's or the
// floor's) can reuse a layer an earlier run made from the very same source. Each push and each floor starts once the
// app's containers have stopped changing (the previous push's drain and background work are over).
// The server runs as users run it: the executable dist/berth (its pre-receive hook is `berth git-hook`) when it
// is built and newer than src/, else from sources; BENCH_SERVER=executable|bundle|sources picks one.
//   export PATH=/opt/berth/node/bin:$PATH; node scripts/bench/push-to-live.ts
//   BENCH_REBUILDS=n (default 7); BENCH_TRACE=1 prints every cached push's output with arrival times (ms).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry } from '../../test/support/registry.ts';
import { gitEnv } from '../../test/support/git-env.ts';
import { BENCH_LABEL, BUNDLE, EXECUTABLE, ROOT, bundleState, docker, execFileP, firstSuccess, freePort, main, ms, printTable, ratio, stats, statsRow, STATS_HEADERS, verdict, viaRouter, withStack } from './lib.ts';

const CA_DIR = '/usr/local/share/ca-certificates';
const REBUILDS = Number(process.env.BENCH_REBUILDS ?? 7);
const TRACE = process.env.BENCH_TRACE === '1';
const load1 = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const LOAD_AT_START = load1();
const TARGET_MS = 5000;
/** Issue 16: `git push` returns within this multiple of the docker build + run floor (the drain happens after). */
const RETURN_TARGET_RATIO = 1.5;
const FLOOR_IMAGE = 'berth-bench-floor';
/** Each phase ends when the last of its lines arrived (the release phase and the new instance's start overlap). */
const PHASES: Array<[string, RegExp[]]> = [
  ['receive', [/-----> Building/]],
  ['build', [/built as/]],
  ['registry push', [/digest sha256/]],
  ['release phase ∥ start + health', [/release command succeeded/, /is healthy/]],
  ['switch + report', [/deployed to/]],
];

interface Push { total: number; returned: number; phases: Record<string, number> }

type Server = 'executable' | 'bundle' | 'sources';

/** BENCH_SERVER, else the executable when it is current, else the sources; with the reason, for the output. */
function pickServer(): { server: Server; why: string } {
  const asked = process.env.BENCH_SERVER;
  if (asked !== undefined) {
    if (asked !== 'executable' && asked !== 'bundle' && asked !== 'sources') throw new Error(`BENCH_SERVER=${asked}: executable, bundle or sources`);
    const file = asked === 'executable' ? EXECUTABLE : asked === 'bundle' ? BUNDLE : '';
    const state = file ? bundleState(file) : 'fresh';
    if (state === 'missing') throw new Error(`BENCH_SERVER=${asked}: ${file} is not built (npm run build)`);
    return { server: asked, why: `BENCH_SERVER${state === 'stale' ? `; ${path.relative(ROOT, file)} is OLDER than src/` : ''}` };
  }
  const state = bundleState(EXECUTABLE);
  return state === 'fresh'
    ? { server: 'executable', why: `${path.relative(ROOT, EXECUTABLE)} is newer than src/` }
    : { server: 'sources', why: `${path.relative(ROOT, EXECUTABLE)} is ${state === 'missing' ? 'not built' : 'older than src/'}: npm run build to measure it` };
}

main('push-to-live', async () => {
  const { server, why } = pickServer();
  console.log(`server: ${server} (${why})`);
  const registry = await startRegistry();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-push-'));
  const run = Math.random().toString(36).slice(2, 8);
  const floorTags: string[] = [];
  try {
    // The default drain (3 s): a push returns without waiting it out.
    // BERTH_NETWORK_HOLDERS=0 runs the same pushes with every container setting its network namespace up itself.
    const holders = process.env.BERTH_NETWORK_HOLDERS === '0' ? '0' : '1';
    console.log(`network holders: ${holders === '1' ? 'on' : 'off (BERTH_NETWORK_HOLDERS=0)'}`);
    await withStack({ BERTH_REGISTRY: registry.address, BERTH_DRAIN_SECONDS: '3', BERTH_NETWORK_HOLDERS: holders }, async ({ caddy, berth, app }) => {
      const name = app('push');
      await berth.ok('POST', '/apps', { name });
      const repo = path.join(work, 'node-app');
      fs.cpSync(path.join(ROOT, 'test/fixtures/push/node-app'), repo, { recursive: true });
      const git = (...args: string[]) => execFileP('git', args, { cwd: repo, env: gitEnv() });
      await git('init', '-q', '-b', 'main');
      await git('add', '-A');
      await git('commit', '-qm', 'v0');
      await git('remote', 'add', 'paas', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${name}.git`);
      const answers = (marker: string) => async () => (await viaRouter(caddy.httpPort, `${name}.localhost`)).body.includes(marker);
      const floor = floorTree(path.join(work, 'by-hand'));
      const floorRun = async (version: string) => {
        floorTags.push(`${FLOOR_IMAGE}:${version}`);
        return dockerFloor(floor, version);
      };

      const first = await timedPush(repo, answers('node-app one'));
      await floorRun(`${run}-warm`); // its npm ci layer is what the timed floors reuse, as the pushes reuse Berth's
      const cached: Push[] = [];
      const baseline: number[] = [];
      // Alternating, so a change in the machine's load between the two halves weighs on both alike.
      for (let i = 1; i <= REBUILDS; i++) {
        const version = `${run}-r${i}`;
        editVersion(repo, version);
        await git('commit', '-qam', version);
        await settled(name);
        cached.push(await timedPush(repo, answers(`node-app ${version}`)));
        await settled(name);
        baseline.push(await floorRun(`${run}-f${i}`));
      }

      const totals = stats(cached.map((p) => p.total));
      const floorStats = stats(baseline);
      const returned = stats(cached.map((p) => p.returned));
      printTable('push → new version answering through Caddy', STATS_HEADERS, [
        ['first push (npm ci, cold)', 1, ms(first.total), '-', '-', '-'],
        statsRow('cached rebuild, one-line change', totals),
        statsRow('cached rebuild: git push returned', returned),
        statsRow('floor: same change, docker build + docker run until it answers', floorStats),
      ]);
      printTable('where a cached push spends its time (median of each phase)', ['phase', 'median', 'first push'],
        PHASES.map(([phase]) => [phase, ms(stats(cached.map((p) => p.phases[phase] ?? NaN)).median), ms(first.phases[phase] ?? NaN)]));
      console.log(`\ncached push vs the docker floor: ${ratio(totals.median, floorStats.median)}`);
      console.log(`target: cached rebuild ≤ ${TARGET_MS} ms median → ${verdict(totals.median <= TARGET_MS)} (${ms(totals.median)})`);
      const returnRatio = returned.median / floorStats.median;
      console.log(`target: git push returns ≤ ${RETURN_TARGET_RATIO}× the docker floor → ${verdict(returnRatio <= RETURN_TARGET_RATIO)} (${returnRatio.toFixed(2)}×: ${ms(returned.median)} vs ${ms(floorStats.median)}; server: ${server}; holders ${holders === '1' ? 'on' : 'off'}; load ${loadAverage()})`);
      await berth.ok('DELETE', `/apps/${name}`, { confirm: name });
    }, server);
  } finally {
    await registry.stop();
    fs.rmSync(work, { recursive: true, force: true });
    for (const id of (await docker('ps', '-aq', '--filter', `label=${BENCH_LABEL}`)).split('\n').filter(Boolean)) await docker('rm', '-f', id);
    if (floorTags.length) await docker('rmi', ...floorTags).catch(() => '');
  }
});

function editVersion(repo: string, version: string): void {
  const file = path.join(repo, 'server.js');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/VERSION = '[^']*'/, `VERSION = '${version}'`));
}

/** Runs `git push paas main`, stamping each phase's first line; the clock stops when the new version answers. */
async function timedPush(repo: string, live: () => Promise<boolean>): Promise<Push> {
  const started = performance.now();
  const phases: Record<string, number> = {};
  const child = spawn('git', ['push', 'paas', 'main'], { cwd: repo, env: gitEnv() });
  let output = '';
  const trace: string[] = [];
  child.stderr.on('data', (d) => {
    output += d;
    if (TRACE) trace.push(...String(d).split('\n').filter(Boolean).map((l) => `${Math.round(performance.now() - started).toString().padStart(6)} ${l}`));
    for (const [phase, patterns] of PHASES) {
      if (phases[phase] === undefined && patterns.every((p) => p.test(output))) phases[phase] = performance.now() - started;
    }
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const returned = performance.now() - started;
  if (code !== 0) throw new Error(`git push failed:\n${output}`);
  const waited = await firstSuccess(live, 20, 30_000);
  if (waited === null) throw new Error('the new version never answered');
  if (TRACE) console.log(`\n${trace.join('\n')}\n${Math.round(returned).toString().padStart(6)} (git push returned)\n${Math.round(performance.now() - started).toString().padStart(6)} (new version answered)`);
  // Phases are cumulative arrival times: turn them into durations.
  let previous = 0;
  for (const [phase] of PHASES) {
    const at = phases[phase];
    if (at === undefined) continue;
    phases[phase] = at - previous;
    previous = at;
  }
  return { total: performance.now() - started, returned, phases };
}

/**
 * The app as a user would deploy it by hand: a copy of the fixture with a Dockerfile ordered for the cache as
 * Berth's generated one is (dependencies, then metadata, then the source and its build step), trusting the
 * host's extra CAs (TLS-intercepting proxy) for npm ci as Berth's builds do, and running the Procfile's web
 * command as Berth does (`npm start`: npm starts, a Node process of its own, before the app does).
 */
function floorTree(dir: string): string {
  fs.cpSync(path.join(ROOT, 'test/fixtures/push/node-app'), dir, { recursive: true });
  const web = /^web:\s*(.+)$/m.exec(fs.readFileSync(path.join(dir, 'Procfile'), 'utf8'))?.[1]?.trim();
  if (!web) throw new Error('the push fixture\'s Procfile has no web: line');
  const cas = fs.readdirSync(CA_DIR).filter((f) => f.endsWith('.crt')).map((f) => fs.readFileSync(path.join(CA_DIR, f), 'utf8'));
  fs.writeFileSync(path.join(dir, 'extra-ca.pem'), cas.join('\n'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), [
    'FROM berth/node:24', 'COPY extra-ca.pem /etc/extra-ca.pem', 'ENV NODE_EXTRA_CA_CERTS=/etc/extra-ca.pem PORT=5000',
    'WORKDIR /app', 'COPY package.json package-lock.json ./', 'RUN npm ci', `CMD ${JSON.stringify(['/bin/sh', '-c', `exec ${web}`])}`,
    'COPY . ./', 'RUN npm run build', ''].join('\n'));
  return dir;
}

/** The one-line change made by hand: edit, `docker build`, `docker run`, until it answers with the new version. */
async function dockerFloor(tree: string, version: string): Promise<number> {
  editVersion(tree, version);
  const port = await freePort();
  const started = performance.now();
  await execFileP('/usr/bin/docker', ['build', '-q', '-t', `${FLOOR_IMAGE}:${version}`, tree], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  const id = await docker('run', '-d', '--init', '--label', BENCH_LABEL, '-p', `127.0.0.1:${port}:5000`, `${FLOOR_IMAGE}:${version}`);
  const up = await firstSuccess(async () => (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => '')).includes(version), 20, 30_000);
  if (up === null) throw new Error('the floor\'s container never answered');
  const took = performance.now() - started;
  await docker('rm', '-f', id);
  return took;
}

/**
 * Waits until the app's containers stop changing (the old instance drained and removed, holders readied for the next
 * push): each push and each floor starts on a machine where nothing of the previous step is still going on, so
 * neither pays for the other's background work. At most 30 s.
 */
async function settled(app: string): Promise<void> {
  const snapshot = () => docker('ps', '-a', '--filter', `label=berth.app=${app}`, '--format', '{{.ID}} {{.State}}');
  let last = await snapshot();
  let stableSince = performance.now();
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await snapshot();
    if (now !== last) {
      last = now;
      stableSince = performance.now();
    } else if (performance.now() - stableSince >= 1500 && !/created|removing|restarting/.test(now)) {
      return;
    }
  }
}

/** The 1-minute load average at the start of the run and now (the machine is shared). */
function loadAverage(): string {
  return `${LOAD_AT_START} at the start, ${load1()} at the end`;
}
