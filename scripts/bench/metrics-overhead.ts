// What the 10 s stats collector costs with 100 running containers: Berth's own CPU (process.cpuUsage, this
// process runs the real collector against the real engine and a real SQLite file) and dockerd's CPU over the
// same span compared with an idle span just before. Target: the collector ≤ 5 % of one core.
//   node scripts/bench/metrics-overhead.ts   (BENCH_CONTAINERS=100, BENCH_SECONDS=60)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DockerRuntime } from '../../src/runtime/docker/index.ts';
import { MetricsStore } from '../../src/metrics/store.ts';
import { MetricsCollector } from '../../src/metrics/collector.ts';
import { openDb } from '../../src/state/db.ts';
import { dockerdPercent, startIdleContainers, removeContainers } from './containers.ts';
import { TEST_IMAGE, cpuMs, execFileP, main, printTable, sleep, stats, statsRow, STATS_HEADERS, verdict } from './lib.ts';

const CONTAINERS = Number(process.env.BENCH_CONTAINERS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const ROUND_MS = 10_000;
const TARGET_PERCENT = 5;
const OWNER = `bench-metrics-${process.pid}`;

main('metrics-overhead', async () => {
  const dockerdPid = Number((await execFileP('pidof', ['dockerd'])).stdout.trim().split(' ')[0]);
  const cleanup = () => removeContainers(OWNER).then((n) => console.log(`removed ${n} benchmark container(s)`));
  process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)); });
  try {
    let t0 = Date.now();
    await startIdleContainers(OWNER, CONTAINERS);
    console.log(`started ${CONTAINERS} containers (${TEST_IMAGE}, 32 MB limit) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    await sleep(5000);

    // dockerd over an idle span of the same length as the measured one (other tenants of the engine included).
    const idle = await dockerdPercent(dockerdPid, SECONDS * 1000);
    console.log(`dockerd idle: ${idle.toFixed(2)} % of one core over ${SECONDS} s`);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-metrics-'));
    const store = new MetricsStore(openDb(path.join(dir, 'berth.db')).$client);
    const runtime = new DockerRuntime({ socketPath: '/var/run/docker.sock', owner: OWNER });
    const collector = new MetricsCollector({ runtime, store, log: console.log });
    await collector.collectOnce(); // warm-up: JIT, first readings
    const roundMs: number[] = [];
    let points = 0;
    const cpu0 = process.cpuUsage();
    const dockerd0 = cpuMs(dockerdPid);
    t0 = Date.now();
    while (Date.now() - t0 < SECONDS * 1000) {
      const started = Date.now();
      await collector.collectOnce();
      roundMs.push(Date.now() - started);
      points = (store.sqlite.prepare('SELECT count(*) AS n FROM metric_instance_points').get() as { n: number }).n;
      await sleep(Math.max(0, ROUND_MS - (Date.now() - started)));
    }
    const wallMs = Date.now() - t0;
    const used = process.cpuUsage(cpu0);
    const berthPercent = ((used.user + used.system) / 1000 / wallMs) * 100;
    const dockerdBusy = ((cpuMs(dockerdPid) - dockerd0) / wallMs) * 100;
    const rounds = roundMs.length;

    printTable(`Stats collector, ${CONTAINERS} running containers, ${rounds} rounds over ${(wallMs / 1000).toFixed(0)} s`, STATS_HEADERS, [
      statsRow('one round (list + one-shot stats of every container + SQLite write)', stats(roundMs)),
    ]);
    printTable('CPU, % of one core', ['process', 'measured', 'note'], [
      ['Berth (collector, process.cpuUsage)', `${berthPercent.toFixed(2)} %`, `${(((used.user + used.system) / 1000) / rounds).toFixed(0)} ms CPU per round`],
      ['dockerd while collecting', `${dockerdBusy.toFixed(2)} %`, `idle span before: ${idle.toFixed(2)} %; difference ${(dockerdBusy - idle).toFixed(2)} %`],
    ]);
    printTable('Target', ['target', 'measured', 'verdict'], [
      [`collector ≤ ${TARGET_PERCENT} % of one core with ${CONTAINERS} containers`, `${berthPercent.toFixed(2)} %`, verdict(berthPercent <= TARGET_PERCENT)],
    ]);
    console.log(`${points} instance points written (${CONTAINERS} per round expected after the first)`);
  } finally {
    await cleanup();
  }
});
