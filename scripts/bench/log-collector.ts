// What the log collector costs with 100 idle running containers: Berth's own CPU (process.cpuUsage; this
// process runs the real collector against the real engine) and dockerd's, over the same span, for the
// old discovery (a full listing, i.e. an inspect of every container, every second) and the event-driven
// one (start events + a 30 s safety listing). Then how soon a container started afterwards is collected.
//   node scripts/bench/log-collector.ts   (BENCH_CONTAINERS=100, BENCH_SECONDS=60)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DockerRuntime } from '../../src/runtime/docker/index.ts';
import type { Runtime } from '../../src/runtime/types.ts';
import { LogStore } from '../../src/logstore/store.ts';
import { LogCollector } from '../../src/logstore/collector.ts';
import Docker from 'dockerode';
import { dockerdPercent, startIdleContainers, removeContainers } from './containers.ts';
import { TEST_IMAGE, cpuMs, execFileP, main, printTable, sleep } from './lib.ts';

const CONTAINERS = Number(process.env.BENCH_CONTAINERS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const OWNER = `bench-logcol-${process.pid}`;
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

interface Run { berth: number; dockerd: number; lines: number; firstLineMs: number | null }

main('log-collector', async () => {
  const dockerdPid = Number((await execFileP('pidof', ['dockerd'])).stdout.trim().split(' ')[0]);
  const cleanup = () => removeContainers(OWNER).then((n) => console.log(`removed ${n} benchmark container(s)`));
  process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)); });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-logcol-'));
  try {
    const t0 = Date.now();
    await startIdleContainers(OWNER, CONTAINERS);
    console.log(`started ${CONTAINERS} containers in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    await sleep(5000);
    const runtime = new DockerRuntime({ socketPath: '/var/run/docker.sock', owner: OWNER });
    // The same runtime without events(): the collector falls back to the full listing every second (the old way).
    const pollingOnly = Object.assign(Object.create(runtime) as Runtime, { events: undefined });
    const idle = await dockerdPercent(dockerdPid, SECONDS * 1000);
    console.log(`dockerd alone: ${idle.toFixed(2)} % of one core`);
    const before = await measure('poll', pollingOnly, path.join(dir, 'poll'), dockerdPid);
    console.log(`full listing every 1 s: Berth ${before.berth.toFixed(2)} %, dockerd ${before.dockerd.toFixed(2)} %`);
    const after = await measure('events', runtime, path.join(dir, 'events'), dockerdPid);
    const row = (label: string, r: Run) => [label, `${r.berth.toFixed(2)} %`, `${r.dockerd.toFixed(2)} %`, String(r.lines),
      r.firstLineMs === null ? 'not within 30 s' : `${r.firstLineMs} ms`];
    printTable(`Log collector, ${CONTAINERS} idle running containers, ${SECONDS} s each (CPU in % of one core)`,
      ['discovery', 'Berth CPU', 'dockerd CPU', 'lines stored', 'new container: first line stored after'], [
        ['(nothing running in Berth: dockerd alone)', '-', `${idle.toFixed(2)} %`, '-', '-'],
        row('full listing every 1 s (before)', before),
        row('start events + listing every 30 s (after)', after),
      ]);
  } finally {
    await cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function measure(name: string, runtime: Runtime, dir: string, dockerdPid: number): Promise<Run> {
  const store = new LogStore({ dir, retentionDays: 1, maxBytesPerApp: 64 * 1024 * 1024 });
  let lines = 0;
  let extraLineAt = 0;
  const collector = new LogCollector({
    runtime, store, stateDir: dir, log: console.log,
    onLine: (app) => { lines++; if (app === 'benchextra' && !extraLineAt) extraLineAt = Date.now(); },
  });
  collector.start();
  await sleep(5000); // first listing and opening every stream is not the steady state measured here
  const cpu0 = process.cpuUsage();
  const dockerd0 = cpuMs(dockerdPid);
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const wallMs = Date.now() - t0;
  const used = process.cpuUsage(cpu0);
  const dockerdBusy = ((cpuMs(dockerdPid) - dockerd0) / wallMs) * 100;
  // A container started now: found by its start event (or by the next listing).
  const started = Date.now();
  const extra = await startExtra(name);
  for (let i = 0; i < 300 && !extraLineAt; i++) await sleep(100);
  await collector.close();
  await store.close();
  await extra.remove({ force: true });
  return {
    berth: ((used.user + used.system) / 1000 / wallMs) * 100, dockerd: dockerdBusy, lines,
    firstLineMs: extraLineAt ? extraLineAt - started : null,
  };
}

/** One more container of the same owner (app benchextra), removed by the caller. */
async function startExtra(name: string): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name: `${OWNER}-extra-${name}`, Image: TEST_IMAGE, Env: ['PORT=5000'],
    Labels: { 'berth.managed': '1', 'berth.owner': OWNER, 'berth.app': 'benchextra', 'berth.process': 'web', 'berth.index': '1' },
    HostConfig: { Memory: 32 * 1024 * 1024, Init: true },
  });
  await container.start();
  return container;
}
