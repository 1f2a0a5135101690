// The k3s installer tasks, for real over SSH against test hosts (containers that look like fresh Debian VMs),
// with a fake k3s binary: a shell script that answers what the tasks ask (`--version`, `kubectl get node`),
// runs as `k3s server|agent` like the real one and records every invocation. Kubernetes itself cannot run
// here; set K3S_BINARY=/path/to/k3s and BERTH_K3S_REAL=1 to run the tasks with a real k3s too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTasks, type Task, type TaskContext, type TaskReport } from '../installer/task.ts';
import { sshContext, type SshTarget } from '../installer/ssh.ts';
import { k3sAgentTasks, k3sServerTasks, readK3sJoinInfo, hostAddress, type K3sOptions } from '../installer/tasks/k3s.ts';
import { argsToConfig, renderNodeConfig, renderRegistries } from '../installer/k3s/config.ts';
import { installScriptCommand, waitNodeReadyCommand } from '../installer/k3s/commands.ts';
import { createTestNetwork, ensureTestHostImages, FRESH_IMAGE, type TestHost, type TestNetwork } from './support/test-hosts.ts';

const FAKE_K3S = `#!/bin/sh
# Fake k3s for Berth's installer tests.
echo "$*" >> /var/log/fake-k3s.calls
case "$1" in
  --version) echo "k3s version v1.99.0+fake (0000000)"; echo "go version go1.22"; exit 0 ;;
  server|agent)
    mkdir -p /var/lib/rancher/k3s/server /etc/rancher/k3s
    if [ "$1" = server ]; then
      echo "K10fakeclusterca::server:fakesecret" > /var/lib/rancher/k3s/server/node-token
      printf 'apiVersion: v1\\nclusters:\\n- cluster:\\n    server: https://127.0.0.1:6443\\n  name: default\\n' > /etc/rancher/k3s/k3s.yaml
    fi
    cp /etc/rancher/k3s/config.yaml /var/log/fake-k3s.started-with
    date +%s > /run/fake-k3s.started
    trap 'exit 0' TERM
    while :; do sleep 1; done ;;
  kubectl)
    # Ready only while a server or agent runs, 4 s after it started (a real node takes a while to register),
    # and only for the node name in its config.
    pgrep -f '/usr/local/bin/k3s (server|agent)$' >/dev/null || { echo "The connection to the server was refused" >&2; exit 1; }
    want=""; prev=""
    for a in "$@"; do [ "$prev" = node ] && want=$a; prev=$a; done
    grep -qx "node-name: \\"$want\\"" /etc/rancher/k3s/config.yaml || { echo "nodes \\"$want\\" not found" >&2; exit 1; }
    [ $(( $(date +%s) - $(cat /run/fake-k3s.started) )) -ge 4 ] && printf True || printf False ;;
  *) echo "fake k3s: unexpected $*" >&2; exit 2 ;;
esac
`;

let dir: string;
let net: TestNetwork;
let serverHost: TestHost;
let agentHost: TestHost;
let fakeK3s: string;
let keyFile: string;

function ctxFor(host: TestHost, checkOnly = false): TaskContext {
  const target: SshTarget = { user: 'root', host: host.address, port: 22, keyFile, knownHostsFile: path.join(dir, 'known_hosts') };
  return sshContext(target, {}, checkOnly);
}

async function run(tasks: Task[], ctx: TaskContext): Promise<TaskReport[]> {
  const lines: TaskReport[] = [];
  await runTasks(tasks, ctx, (line) => lines.push(line));
  return lines;
}

const statuses = (lines: TaskReport[]) => lines.map((l) => l.status);
const calls = async (host: TestHost) => (await host.sh('cat /var/log/fake-k3s.calls 2>/dev/null || true')).split('\n').filter(Boolean);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-k3s-test-'));
  keyFile = path.join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  fakeK3s = path.join(dir, 'k3s');
  fs.writeFileSync(fakeK3s, FAKE_K3S, { mode: 0o755 });
  await ensureTestHostImages();
  net = await createTestNetwork('berth-k3s');
  const authorizedKey = fs.readFileSync(`${keyFile}.pub`, 'utf8').trim();
  serverHost = await net.addHost({ image: FRESH_IMAGE, authorizedKey });
  agentHost = await net.addHost({ image: FRESH_IMAGE, authorizedKey });
});

after(async () => {
  await net?.remove();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('config.yaml carries every setting; extra flags become keys, repeated ones lists', () => {
  const server = renderNodeConfig({ role: 'server', nodeName: 'cp1', address: '10.0.0.5', opts: { extraArgs: ['--disable=traefik', '--disable', 'servicelb', '--tls-san=cp.example.com', '--flannel-ipv6-masq'] } });
  assert.match(server, /^node-name: "cp1"$/m);
  assert.match(server, /^tls-san:\n {2}- "10\.0\.0\.5"\n {2}- "cp\.example\.com"$/m);
  assert.match(server, /^disable:\n {2}- "traefik"\n {2}- "servicelb"$/m);
  assert.match(server, /^flannel-ipv6-masq: true$/m);
  assert.doesNotMatch(server, /^token:/m);
  const agent = renderNodeConfig({ role: 'agent', nodeName: 'w1', address: '10.0.0.6', opts: { serverUrl: 'https://10.0.0.5:6443', token: 'K10"x' } });
  assert.match(agent, /^server: "https:\/\/10\.0\.0\.5:6443"$/m);
  assert.match(agent, /^token: "K10\\"x"$/m);
  assert.doesNotMatch(agent, /tls-san/);
  assert.throws(() => argsToConfig(['disable=traefik']), /not of the form --flag=value/);
  assert.throws(() => k3sAgentTasks({ serverUrl: 'https://x:6443' }), /join token/);
});

test('registries.yaml mirrors docker.io and the registry itself to Berth\'s registry', () => {
  const yaml = renderRegistries('10.0.0.1:5000');
  assert.match(yaml, /^mirrors:\n {2}"docker\.io":\n {4}endpoint:\n {6}- "http:\/\/10\.0\.0\.1:5000"\n {2}"10\.0\.0\.1:5000":\n {4}endpoint:\n {6}- "http:\/\/10\.0\.0\.1:5000"$/m);
  assert.match(renderRegistries('https://reg.example.com/'), /"reg\.example\.com":\n {4}endpoint:\n {6}- "https:\/\/reg\.example\.com"/);
  assert.doesNotMatch(yaml, /configs:/, 'no credential: no auth block');
  const withAuth = renderRegistries('10.0.0.1:5000', { username: 'berth', password: 'p"w' });
  assert.match(withAuth, /\nconfigs:\n {2}"10\.0\.0\.1:5000":\n {4}auth:\n {6}username: "berth"\n {6}password: "p\\"w"\n$/);
});

test('install commands: the official script online (downloaded first) or air-gapped, never started by it', () => {
  const online = installScriptCommand({ role: 'agent', url: 'https://get.k3s.io', version: 'v1.31.4+k3s1' });
  assert.match(online, /^curl -sfL --retry 3 -o \/tmp\/berth-k3s-install\.sh 'https:\/\/get\.k3s\.io' && /);
  assert.match(online, /INSTALL_K3S_EXEC=agent INSTALL_K3S_SKIP_START=true INSTALL_K3S_VERSION='v1\.31\.4\+k3s1' sh /);
  const offline = installScriptCommand({ role: 'server', localPath: '/usr/local/lib/berth/k3s-install.sh' });
  assert.equal(offline, "INSTALL_K3S_EXEC=server INSTALL_K3S_SKIP_START=true INSTALL_K3S_SKIP_DOWNLOAD=true sh '/usr/local/lib/berth/k3s-install.sh'");
  assert.match(waitNodeReadyCommand('agent', 'w1', 10), /seq 1 5\b.*--kubeconfig \/var\/lib\/rancher\/k3s\/agent\/kubelet\.kubeconfig get node 'w1'/);
  assert.equal(hostAddress('root@10.0.0.5'), '10.0.0.5');
  assert.equal(hostAddress('admin@[fd00::5]:2222'), 'fd00::5');
  assert.equal(hostAddress('vm1:22'), 'vm1');
});

const serverOpts = (): K3sOptions => ({ k3sBinary: fakeK3s, nodeName: 'cp1', registryMirror: `${net.gateway}:5000`, joinTimeoutSeconds: 10 });

test('server, air-gapped: --check changes nothing; first run changes, second run is all ok', async () => {
  const checked = await run(k3sServerTasks(serverOpts()), ctxFor(serverHost, true));
  assert.deepEqual(statuses(checked), Array(6).fill('would-change'), JSON.stringify(checked));
  assert.equal(await serverHost.sh('ls /usr/local/bin/k3s /etc/rancher 2>&1 || true'),
    "ls: cannot access '/usr/local/bin/k3s': No such file or directory\nls: cannot access '/etc/rancher': No such file or directory");

  const first = await run(k3sServerTasks(serverOpts()), ctxFor(serverHost));
  assert.deepEqual(statuses(first), Array(6).fill('changed'), JSON.stringify(first, null, 2));
  assert.deepEqual(first.map((l) => l.task), [
    'k3s server config (/etc/rancher/k3s/config.yaml)',
    `k3s registry mirror ${net.gateway}:5000 (/etc/rancher/k3s/registries.yaml)`,
    'k3s binary k3s (/usr/local/bin/k3s)',
    'k3s server service definition (no install script: Berth\'s own)',
    'k3s server service k3s running with the current files',
    'k3s node cp1 joined and Ready',
  ]);
  assert.equal(await serverHost.sh('sha256sum < /usr/local/bin/k3s | cut -d" " -f1'),
    execFileSync('sha256sum', [fakeK3s], { encoding: 'utf8' }).split(' ')[0]);
  assert.match(await serverHost.sh('cat /etc/rancher/k3s/config.yaml'), new RegExp(`^tls-san:\\n  - "${serverHost.address.replaceAll('.', '\\.')}"$`, 'm'));
  assert.match(await serverHost.sh('cat /etc/rancher/k3s/registries.yaml'), new RegExp(`- "http://${net.gateway}:5000"`));
  assert.equal(await serverHost.sh('stat -c %a /etc/rancher/k3s/config.yaml /usr/local/bin/k3s'), '600\n755');

  const second = await run(k3sServerTasks(serverOpts()), ctxFor(serverHost));
  assert.deepEqual(statuses(second), Array(6).fill('ok'), JSON.stringify(second, null, 2));
  assert.deepEqual((await calls(serverHost)).filter((c) => c === 'server'), ['server'], 'k3s server was started exactly once');
});

test('a changed setting rewrites config.yaml and restarts the service, nothing else', async () => {
  const opts = { ...serverOpts(), extraArgs: ['--disable=traefik'] };
  const lines = await run(k3sServerTasks(opts), ctxFor(serverHost));
  // The restarted (fake) node is NotReady for 4 s, so the last task waits for it again.
  assert.deepEqual(statuses(lines), ['changed', 'ok', 'ok', 'ok', 'changed', 'changed'], JSON.stringify(lines, null, 2));
  assert.match(await serverHost.sh('cat /var/log/fake-k3s.started-with'), /^disable: "traefik"$/m, 'k3s restarted with the new config');
  assert.deepEqual((await calls(serverHost)).filter((c) => c === 'server'), ['server', 'server']);
  assert.equal(await serverHost.sh('pgrep -fc "/usr/local/bin/k3s server$"'), '1', 'the old process was stopped');
});

test('a stopped service is started again; the join info comes back with the server\'s address', async () => {
  await serverHost.sh('kill "$(cat /run/k3s.pid)"; for i in $(seq 1 30); do pgrep -f "k3s server$" >/dev/null || exit 0; sleep 0.2; done');
  const opts = { ...serverOpts(), extraArgs: ['--disable=traefik'] };
  const lines = await run(k3sServerTasks(opts), ctxFor(serverHost));
  assert.deepEqual(statuses(lines), ['ok', 'ok', 'ok', 'ok', 'changed', 'changed'], JSON.stringify(lines, null, 2));

  const info = await readK3sJoinInfo(ctxFor(serverHost));
  assert.equal(info.serverUrl, `https://${serverHost.address}:6443`);
  assert.equal(info.token, 'K10fakeclusterca::server:fakesecret');
  assert.match(info.kubeconfig, new RegExp(`server: https://${serverHost.address.replaceAll('.', '\\.')}:6443\\n`));
  assert.doesNotMatch(info.kubeconfig, /127\.0\.0\.1/);
});

test('agent joins with the server\'s URL and token; its node name defaults to the hostname', async () => {
  const info = await readK3sJoinInfo(ctxFor(serverHost));
  const opts: K3sOptions = { k3sBinary: fakeK3s, serverUrl: info.serverUrl, token: info.token, joinTimeoutSeconds: 10 };
  const first = await run(k3sAgentTasks(opts), ctxFor(agentHost));
  assert.deepEqual(statuses(first), Array(5).fill('changed'), JSON.stringify(first, null, 2));
  const config = await agentHost.sh('cat /etc/rancher/k3s/config.yaml');
  assert.match(config, new RegExp(`^server: "${info.serverUrl.replaceAll('.', '\\.')}"$`, 'm'));
  assert.match(config, /^token: "K10fakeclusterca::server:fakesecret"$/m);
  assert.match(config, new RegExp(`^node-name: "${agentHost.name.toLowerCase()}"$`, 'm'));
  const agentCalls = await calls(agentHost);
  assert.deepEqual(agentCalls.filter((c) => c === 'agent'), ['agent']);
  assert.ok(agentCalls.some((c) => c.startsWith('kubectl --kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig get node')), agentCalls.join('\n'));

  const second = await run(k3sAgentTasks(opts), ctxFor(agentHost));
  assert.deepEqual(statuses(second), Array(5).fill('ok'), JSON.stringify(second, null, 2));
});

test('a failing install stops there with the command, its output and a hint', async () => {
  // curl comes from the Debian mirror; the official installer's download fails at once (nothing listens on port 9).
  const lines = await run(k3sServerTasks({ nodeName: 'cp2', installScriptUrl: 'http://127.0.0.1:9/install.sh' }), ctxFor(agentHost));
  assert.deepEqual(statuses(lines), ['changed', 'changed', 'failed']);
  assert.match(lines[2].detail!, /^command: curl -sfL --retry 3 -o \/tmp\/berth-k3s-install\.sh 'http:\/\/127\.0\.0\.1:9\/install\.sh'/m);
  assert.match(lines[2].detail!, /^exit code: 7$/m);
  assert.match(lines[2].detail!, /^hint: .*k3sBinary/m);
});

const realBinary = process.env.K3S_BINARY;
const realSkip = realBinary && process.env.BERTH_K3S_REAL === '1' ? false
  : 'set K3S_BINARY=/path/to/k3s and BERTH_K3S_REAL=1 to install a real k3s server into a test host';

test('real k3s: the server tasks bring up a Ready node and its join info', { skip: realSkip }, async () => {
  const host = await net.addHost({ image: FRESH_IMAGE, authorizedKey: fs.readFileSync(`${keyFile}.pub`, 'utf8').trim() });
  const opts: K3sOptions = { k3sBinary: realBinary!, nodeName: 'real1', joinTimeoutSeconds: 240, extraArgs: ['--disable=traefik'] };
  const first = await run(k3sServerTasks(opts), ctxFor(host));
  assert.ok(first.every((l) => l.status === 'changed' || l.status === 'ok'), JSON.stringify(first, null, 2));
  const second = await run(k3sServerTasks(opts), ctxFor(host));
  assert.ok(second.every((l) => l.status === 'ok'), JSON.stringify(second, null, 2));
  const info = await readK3sJoinInfo(ctxFor(host));
  assert.match(info.token, /^K10/);
  assert.match(info.kubeconfig, /client-certificate-data/);
});
