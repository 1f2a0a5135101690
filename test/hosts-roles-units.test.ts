// hosts:add's roles now that Docker hosts are gone, and what a Docker host an older Berth registered becomes: the
// plan (validated before anything runs) over a real SQLite database; no engine or SSH is reached here (the
// SSH side of hosts:remove of a retired host is in test/installer.test.ts, against a real test host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../src/state/db.ts';
import { HostsStore } from '../src/state/hosts-store.ts';
import { createHosts, hostSettings } from '../src/hosts/wiring.ts';
import { createLocalEngine } from '../src/runtime/docker/local-engine.ts';
import { BerthError } from '../src/shared/errors.ts';
import { retiredDockerHostTasks } from '../src/hosts/retired-docker.ts';
import type { TaskContext } from '../installer/task.ts';

function setup() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-hosts-roles-'));
  const db = openDb(path.join(dataDir, 'berth.db'));
  const logged: string[] = [];
  const engine = createLocalEngine({ socketPath: '/nonexistent/docker.sock', owner: 'abc123' });
  const make = () => createHosts({ db, engine, dataDir, owner: 'abc123', settings: hostSettings('127.0.0.1:5000', {}), log: (l) => logged.push(l) });
  return { store: new HostsStore(db), make, logged };
}

const refused = (status: number, code: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof BerthError, String(err));
  assert.equal(err.status, status);
  assert.equal(err.code, code);
  if (message) assert.match(err.message, message);
  return true;
};

const row = (name: string, role: 'docker' | 'k3s-server' | 'k3s-agent') =>
  ({ name, address: `10.0.0.${name.length}`, sshUser: 'root', sshPort: 22, role, memoryMB: null, cpus: null });

test('--role docker is refused: Docker hosts are gone, more machines means k3s (docs/k3s.md)', async () => {
  const { service } = setup().make();
  await assert.rejects(service.plan({ address: 'root@10.0.0.5', role: 'docker' }),
    refused(422, 'docker_hosts_removed', /Docker hosts are gone[\s\S]*k3s[\s\S]*docs\/k3s\.md/));
});

test('without --role: the first host is told it needs --role k3s-server; once a k3s server is registered, k3s-agent', async () => {
  const { store, make } = setup();
  const { service } = make();
  await assert.rejects(service.plan({ address: 'root@10.0.0.5' }), refused(422, 'role_required', /--role k3s-server[\s\S]*BERTH_KUBECONFIG[\s\S]*--role kubelet/));
  store.upsert(row('server-1', 'k3s-server'));
  assert.equal((await service.plan({ address: 'root@10.0.0.6' })).role, 'k3s-agent');
  assert.equal((await service.plan({ address: 'root@10.0.0.7', role: 'k3s-server' })).role, 'k3s-server');
});

test('a retired Docker host does not count as a cluster to join', async () => {
  const { store, make } = setup();
  store.upsert(row('old-docker', 'docker'));
  await assert.rejects(make().service.plan({ address: 'root@10.0.0.5' }), refused(422, 'role_required'));
});

test('unknown roles are refused, prototype keys of the role table included; "local" names no host', async () => {
  const { service } = setup().make();
  for (const role of ['Kubelet', 'mainframe', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '']) {
    await assert.rejects(service.plan({ address: 'root@10.0.0.5', role }), refused(422, 'invalid_role', /k3s-server, k3s-agent, kubelet/), role);
  }
  await assert.rejects(service.plan({ address: 'root@10.0.0.5', role: 'k3s-server', name: 'local' }), refused(422, 'invalid_host_name'));
});

test('each Docker host left from before is named in the log once at start, with how to finish the move; k3s hosts are not', () => {
  const { store, make, logged } = setup();
  store.upsert(row('old-a', 'docker'));
  store.upsert(row('old-bb', 'docker'));
  store.upsert(row('agent-1', 'k3s-agent'));
  make();
  assert.equal(logged.length, 2, logged.join('\n'));
  assert.match(logged[0], /^host old-a \(10\.0\.0\.5\) is a Docker host of an older Berth: it is no longer used/);
  assert.match(logged[0], /berth hosts:remove old-a[\s\S]*docs\/k3s\.md, "Moving from Docker hosts"/);
  assert.match(logged[1], /^host old-bb /);
});

test('drain and undrain of a retired Docker host are refused (409 host_retired, pointing at hosts:remove); unknown names 404', async () => {
  const { store, make } = setup();
  store.upsert(row('old-a', 'docker'));
  const { service } = make();
  await assert.rejects(service.drain('old-a'), refused(409, 'host_retired', /berth hosts:remove old-a/));
  await assert.rejects(service.undrain('old-a'), refused(409, 'host_retired'));
  await assert.rejects(service.drain('nope'), refused(404, 'host_not_found'));
});

test('the retired host\'s cleanup asks Docker for this installation\'s containers only, the label value shell-quoted', async () => {
  const commands: string[] = [];
  const ctx: TaskContext = { host: 'h', vars: {}, checkOnly: false, run: async (cmd) => { commands.push(cmd); return { code: 0, stdout: '', stderr: '' }; } };
  const [task] = retiredDockerHostTasks("x'; rm -rf / #");
  assert.equal(await task.check(ctx), true, 'no container listed: nothing to do');
  assert.deepEqual(commands, [`docker ps -aq --filter 'label=berth.owner=x'\\''; rm -rf / #'`]);
});
