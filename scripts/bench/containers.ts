// Many idle benchmark containers on the local engine (the test image, labelled as Berth instances of a
// private owner), their removal, and dockerd's CPU meanwhile: shared by the per-container overhead benchmarks.
import Docker from 'dockerode';
import { cpuMs, pool, sleep } from './lib.ts';
import { TEST_IMAGE } from '../../test/support/berth.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

/** Starts `count` containers labelled for `owner`, app bench<i> process web index 1 each. */
export async function startIdleContainers(owner: string, count: number): Promise<void> {
  // Four creates at a time: Docker 20.10's libnetwork wedges under many parallel creates (see runtime/docker).
  await pool(Array.from({ length: count }, (_, i) => i), 4, async (i) => {
    const container = await docker.createContainer({
      name: `${owner}-${i}`,
      Image: TEST_IMAGE,
      Env: ['PORT=5000'],
      Labels: { 'berth.managed': '1', 'berth.owner': owner, 'berth.app': `bench${i}`, 'berth.process': 'web', 'berth.index': '1' },
      HostConfig: { Memory: 32 * 1024 * 1024, Init: true },
    });
    await container.start();
  });
}

/** Removes every container of `owner`; how many there were. */
export async function removeContainers(owner: string): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`berth.owner=${owner}`] } });
  await pool(containers, 4, (c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {}));
  return containers.length;
}

/** dockerd's CPU over a span, in % of one core. */
export async function dockerdPercent(pid: number, spanMs: number): Promise<number> {
  const before = cpuMs(pid);
  const t0 = Date.now();
  await sleep(spanMs);
  return ((cpuMs(pid) - before) / (Date.now() - t0)) * 100;
}
