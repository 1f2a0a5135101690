// Push-to-live of a small Node app (issue 3): from `git push` starting until the new version answers
// through Caddy, for the first build and for cached rebuilds after a one-line change. Each push is broken
// down by when its `remote:` lines arrived (receive / build / registry push / release phase / start+health /
// switch). Baseline in the same run: the floor any PaaS pays for the same change, `docker build` of the same
// tree (cached) plus `docker run` until it answers.
//   export PATH=/opt/berth/node/bin:$PATH; node scripts/bench/push-to-live.ts
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry } from '../../test/support/registry.ts';
import { gitEnv } from '../../test/support/git-env.ts';
import { BENCH_LABEL, ROOT, docker, firstSuccess, freePort, main, ms, printTable, ratio, stats, statsRow, STATS_HEADERS, verdict, viaRouter, withStack } from './lib.ts';

const CA_DIR = '/usr/local/share/ca-certificates';
const REBUILDS = Number(process.env.BENCH_REBUILDS ?? 7);
const TARGET_MS = 5000;
/** Issue 16: `git push` returns within this multiple of the docker build + run floor (the drain happens after). */
const RETURN_TARGET_RATIO = 1.5;
const PHASES: Array<[string, RegExp]> = [
  ['receive', /-----> Building/],
  ['build', /built as/],
  ['registry push', /digest sha256/],
  ['release phase', /Starting web\.1/],
  ['start + health', /is healthy/],
  ['switch + drain', /deployed to/],
];

interface Push { total: number; returned: number; phases: Record<string, number> }

main('push-to-live', async () => {
  const registry = await startRegistry();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-push-'));
  try {
    // The default drain (3 s): a push returns without waiting it out.
    await withStack({ BERTH_REGISTRY: registry.address, BERTH_DRAIN_SECONDS: '3' }, async ({ caddy, berth, app }) => {
      const name = app('push');
      await berth.ok('POST', '/apps', { name });
      const repo = path.join(work, 'node-app');
      fs.cpSync(path.join(ROOT, 'test/fixtures/push/node-app'), repo, { recursive: true });
      const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: gitEnv(), encoding: 'utf8' });
      git('init', '-q', '-b', 'main');
      git('add', '-A');
      git('commit', '-qm', 'v0');
      git('remote', 'add', 'paas', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${name}.git`);
      const answers = (marker: string) => async () => (await viaRouter(caddy.httpPort, `${name}.localhost`)).body.includes(marker);

      const first = await timedPush(repo, answers("node-app one"));
      const cached: Push[] = [];
      for (let i = 1; i <= REBUILDS; i++) {
        editVersion(repo, `r${i}`);
        git('commit', '-qam', `r${i}`);
        cached.push(await timedPush(repo, answers(`node-app r${i}`)));
      }
      const baseline: number[] = [];
      editVersion(repo, 'base0');
      await dockerFloor(repo, 'base0'); // warm-up: its npm ci layer is what the timed runs reuse
      for (let i = 1; i <= 3; i++) {
        editVersion(repo, `base${i}`);
        baseline.push(await dockerFloor(repo, `base${i}`));
      }

      const totals = stats(cached.map((p) => p.total));
      const floor = stats(baseline);
      const returned = stats(cached.map((p) => p.returned));
      printTable('push → new version answering through Caddy', STATS_HEADERS, [
        ['first push (npm ci, cold)', 1, ms(first.total), '-', '-', '-'],
        statsRow('cached rebuild, one-line change', totals),
        statsRow('cached rebuild: git push returned', returned),
        statsRow('baseline: docker build (cached) + docker run', floor),
      ]);
      printTable('where a cached push spends its time (median of each phase)', ['phase', 'median', 'first push'],
        PHASES.map(([phase]) => [phase, ms(stats(cached.map((p) => p.phases[phase] ?? NaN)).median), ms(first.phases[phase] ?? NaN)]));
      console.log(`\ncached push vs the docker floor: ${ratio(totals.median, floor.median)}`);
      console.log(`target: cached rebuild ≤ ${TARGET_MS} ms median → ${verdict(totals.median <= TARGET_MS)} (${ms(totals.median)})`);
      const returnRatio = returned.median / floor.median;
      console.log(`target: git push returns ≤ ${RETURN_TARGET_RATIO}× the docker floor → ${verdict(returnRatio <= RETURN_TARGET_RATIO)} (${returnRatio.toFixed(2)}×: ${ms(returned.median)} vs ${ms(floor.median)})`);
      await berth.ok('DELETE', `/apps/${name}`, { confirm: name });
    });
  } finally {
    await registry.stop();
    fs.rmSync(work, { recursive: true, force: true });
    for (const id of (await docker('ps', '-aq', '--filter', `label=${BENCH_LABEL}`)).split('\n').filter(Boolean)) await docker('rm', '-f', id);
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
  child.stderr.on('data', (d) => {
    output += d;
    for (const [phase, pattern] of PHASES) {
      if (phases[phase] === undefined && pattern.test(output)) phases[phase] = performance.now() - started;
    }
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const returned = performance.now() - started;
  if (code !== 0) throw new Error(`git push failed:\n${output}`);
  const waited = await firstSuccess(live, 20, 30_000);
  if (waited === null) throw new Error('the new version never answered');
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

/** The same change built straight with Docker from the app's last Berth build context, then run until it answers. */
async function dockerFloor(repo: string, version: string): Promise<number> {
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-ctx-'));
  try {
    fs.cpSync(repo, context, { recursive: true, filter: (f) => !f.includes('/.git') });
    // Same trust as Berth's builds: the host's extra CAs (TLS-intercepting proxy) for npm ci.
    const cas = fs.readdirSync(CA_DIR).filter((f) => f.endsWith('.crt')).map((f) => fs.readFileSync(path.join(CA_DIR, f), 'utf8'));
    fs.writeFileSync(path.join(context, 'extra-ca.pem'), cas.join('\n'));
    fs.writeFileSync(path.join(context, 'Dockerfile'), [
      'FROM berth/node:24', 'COPY extra-ca.pem /etc/extra-ca.pem', 'ENV NODE_EXTRA_CA_CERTS=/etc/extra-ca.pem',
      'WORKDIR /app', 'COPY package.json package-lock.json ./', 'RUN npm ci',
      'COPY . ./', 'RUN npm run build', 'ENV PORT=5000', 'CMD ["node", "server.js"]', ''].join('\n'));
    const port = await freePort();
    const started = performance.now();
    execFileSync('/usr/bin/docker', ['build', '-q', '-t', `berth-bench-floor:${version}`, context], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    await docker('run', '-d', '--init', '--label', BENCH_LABEL, '-p', `127.0.0.1:${port}:5000`, `berth-bench-floor:${version}`);
    const up = await firstSuccess(async () => (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => '')).includes(version), 20, 30_000);
    if (up === null) throw new Error('the baseline container never answered');
    return performance.now() - started;
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}
