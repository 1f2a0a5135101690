// Memory over time (issue 15): N cycles of what a team does all day, through the real API and git push,
// each cycle: create an app, push a small Node app (build, registry push, release), wait until it answers
// through Caddy, change its config (a second release), read its logs, destroy it. VmRSS of the server is
// taken after each cycle once it has been idle a moment; after the last cycle it must be within 10 % of
// after the first (the first cycle loads what is loaded on first use: the builder's worker, the log tails).
// Run against the single executable when built (what an install runs), else the bundle, else the sources.
//   node scripts/bench/soak.ts      (BENCH_SOAK_CYCLES=12, BENCH_SOAK_SERVER=executable|bundle|sources)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry } from '../../test/support/registry.ts';
import { gitEnv } from '../../test/support/git-env.ts';
import { gitPush } from '../../test/support/git-push.ts';
import { BUNDLE, EXECUTABLE, ROOT, bundleState, firstSuccess, main, printTable, rssMB, serverPid, sleep, verdict, viaRouter, withStack } from './lib.ts';

const CYCLES = Math.max(2, Number(process.env.BENCH_SOAK_CYCLES ?? 12));
const SETTLE_SECONDS = 5;
const TARGET_GROWTH = 0.10;
type Server = 'executable' | 'bundle' | 'sources';

main('soak', async () => {
  const server = (process.env.BENCH_SOAK_SERVER as Server | undefined)
    ?? (existsSync(EXECUTABLE) ? 'executable' : existsSync(BUNDLE) ? 'bundle' : 'sources');
  if (server !== 'sources' && bundleState() === 'stale') console.log('note: dist/ is older than src/ (run npm run build for current numbers)');
  const registry = await startRegistry();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-soak-'));
  try {
    const repo = path.join(work, 'node-app');
    fs.cpSync(path.join(ROOT, 'test/fixtures/push/node-app'), repo, { recursive: true });
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: gitEnv(), encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'soak');

    await withStack({ BERTH_REGISTRY: registry.address, BERTH_DRAIN_SECONDS: '0' }, async ({ caddy, berth, app }) => {
      const pid = serverPid(berth);
      const started = rssMB(pid).rss;
      const after: number[] = [];
      const anon: number[] = [];
      const t0 = Date.now();
      for (let cycle = 1; cycle <= CYCLES; cycle++) {
        const name = app(`soak${cycle}`);
        await berth.ok('POST', '/apps', { name });
        const pushed = await gitPush(repo, '-f', `http://berth:${berth.token}@127.0.0.1:${berth.port}/git/${name}.git`, 'main');
        if (pushed.code !== 0) throw new Error(`cycle ${cycle}: git push failed:\n${pushed.output}`);
        const answers = await firstSuccess(async () => (await viaRouter(caddy.httpPort, `${name}.localhost`)).status === 200, 50, 30_000);
        if (answers === null) throw new Error(`cycle ${cycle}: ${name} never answered through Caddy`);
        await berth.ok('PATCH', `/apps/${name}/config`, { SOAK_CYCLE: String(cycle) });
        await berth.ok('GET', `/apps/${name}/logs?tail=100`);
        await berth.ok('GET', `/apps/${name}/logs?since=1h`);
        await berth.ok('DELETE', `/apps/${name}`, { confirm: name });
        await sleep(SETTLE_SECONDS * 1000);
        const now = rssMB(pid);
        after.push(now.rss);
        anon.push(now.anon);
        console.log(`cycle ${cycle}/${CYCLES}: VmRSS ${now.rss.toFixed(1)} MB (anon ${now.anon.toFixed(1)}) (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }
      const first = after[0];
      const last = after.at(-1)!;
      const growth = (last - first) / first;
      const mb = (x: number) => `${x.toFixed(1)} MB`;
      printTable(`Berth server VmRSS (${server}), ${SETTLE_SECONDS} s after each create/push/config/logs/destroy cycle`,
        ['', 'started', 'after cycle 1', `after cycle ${CYCLES}`, 'growth', 'max'], [
          ['VmRSS', mb(started), mb(first), mb(last), `${(growth * 100).toFixed(1)} %`, mb(Math.max(...after))],
          ['of which anonymous', '', mb(anon[0]), mb(anon.at(-1)!), `${((anon.at(-1)! / anon[0] - 1) * 100).toFixed(1)} %`, mb(Math.max(...anon))],
        ]);
      console.log(`peak (VmHWM): ${mb(rssMB(pid).peak)}`);
      console.log(`all cycles (MB): ${after.map((x) => x.toFixed(0)).join(' ')}`);
      console.log(`target: RSS after ${CYCLES} cycles within ${TARGET_GROWTH * 100} % of after the first → ${verdict(growth <= TARGET_GROWTH)}`);
    }, server);
  } finally {
    await registry.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
