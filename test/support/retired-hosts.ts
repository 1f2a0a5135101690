// A Docker host registered by an older Berth (role 'docker'), as an upgraded installation finds it: the server is
// stopped, the row written into its database as the old hosts:add left it, Berth's SSH key authorized on the
// test host (the old installer did that too), and the server started again, so it sees the host at its start.
import path from 'node:path';
import { openDb } from '../../src/state/db.ts';
import { HostsStore } from '../../src/state/hosts-store.ts';
import { ensureBerthSshKey } from '../../src/hosts/berth-key.ts';
import type { BerthServer } from './berth.ts';
import type { TestHost } from './test-hosts.ts';

export async function registerRetiredDockerHost(berth: BerthServer, host: TestHost, name: string, sshPort = 22): Promise<void> {
  await berth.kill('SIGTERM');
  const db = openDb(path.join(berth.dataDir, 'berth.db'));
  try {
    new HostsStore(db).upsert({ name, address: host.address, sshUser: 'root', sshPort, role: 'docker', memoryMB: 1024, cpus: 1 });
  } finally {
    db.$client.close();
  }
  const key = ensureBerthSshKey(berth.dataDir);
  await host.sh(`grep -qxF '${key.publicKey}' /root/.ssh/authorized_keys || echo '${key.publicKey}' >> /root/.ssh/authorized_keys`);
  await berth.start();
}
