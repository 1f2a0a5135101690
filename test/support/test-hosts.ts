// Machines for installer and node tests: privileged containers that look like a fresh Debian 12 VM (sshd,
// sudo, iproute2, CA certificates, working apt), on a Docker network the test creates, with a volume for the
// data of whatever engine runs inside (containerd for k8s nodes: support/k8s-nodes.ts).
// Images are built from berth/debian:bookworm and cached by a label that records their recipe.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const DOCKER = process.env.DOCKER ?? '/usr/bin/docker';
const CA_DIR = '/usr/local/share/ca-certificates';

/** A fresh VM. */
export const FRESH_IMAGE = 'berth-test/host:bookworm';

// Bump when a Dockerfile below changes, so cached images are rebuilt.
const RECIPE = '4';

const FRESH_DOCKERFILE = `FROM berth/debian:bookworm
COPY sources.list /etc/apt/sources.list
COPY ca/ /usr/local/share/ca-certificates/
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      openssh-server sudo iproute2 ca-certificates procps \\
 && update-ca-certificates && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh
COPY start.sh /usr/local/sbin/start-host
CMD ["/usr/local/sbin/start-host"]
`;

// Host keys are made on first boot, like a fresh VM; the test's public key comes in as AUTHORIZED_KEY.
// Docker mounts the cgroup hierarchies read-only even in a container with every capability; a VM's are
// writable, so they are mounted afresh (in the container's own cgroup namespace) for the engine inside to use.
const START_SH = `#!/bin/sh
set -e
mount -t cgroup | while read -r _ _ dir _ _ opts; do
  opts=$(echo "$opts" | tr -d '()' | sed 's/^ro,//')
  umount "$dir" && mount -t cgroup -o "$opts" cgroup "$dir"
done
ssh-keygen -A >/dev/null
[ -z "$AUTHORIZED_KEY" ] || echo "$AUTHORIZED_KEY" >> /root/.ssh/authorized_keys
exec /usr/sbin/sshd -D -e
`;

// What --privileged gives, spelled out: this machine's dockerd lacks CAP_SYS_RESOURCE, so --privileged
// (which asks for every capability) cannot start a container here.
const HOST_PRIVILEGES = [
  '--cgroupns', 'private', '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
  '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--device-cgroup-rule', 'a *:* rwm',
];

export async function docker(args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<string> {
  try {
    const { stdout } = await exec(DOCKER, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

async function imageLabel(image: string): Promise<string> {
  return docker(['image', 'inspect', '-f', '{{index .Config.Labels "berth.test-host"}}', image], { allowFail: true });
}

/** Builds an image from a Dockerfile (and files withContext adds) unless one of this recipe exists. */
export async function buildImage(image: string, dockerfile: string, withContext: (dir: string) => void, recipe = RECIPE): Promise<void> {
  if (await imageLabel(image) === recipe) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-host-'));
  try {
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `${dockerfile}LABEL berth.test-host="${recipe}"\n`);
    withContext(dir);
    await docker(['build', '-q', '-t', image, dir], { timeoutMs: 15 * 60_000 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds (once) the test host image; apt inside reaches Debian's mirror the way this machine does. */
export async function ensureTestHostImages(): Promise<void> {
  await buildImage(FRESH_IMAGE, FRESH_DOCKERFILE, (dir) => {
    fs.writeFileSync(path.join(dir, 'sources.list'), 'deb http://deb.debian.org/debian bookworm main\n' +
      'deb http://deb.debian.org/debian bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n');
    fs.mkdirSync(path.join(dir, 'ca'));
    if (fs.existsSync(CA_DIR)) fs.cpSync(CA_DIR, path.join(dir, 'ca'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'start.sh'), START_SH, { mode: 0o755 });
  });
}

export interface TestHost {
  name: string;          // container name
  address: string;       // its IP on the test network
  volume: string;
  /** Runs a shell command inside the host (not over SSH): for test setup and assertions. */
  sh(command: string): Promise<string>;
}

export interface TestNetwork {
  name: string;
  gateway: string;       // this machine's address on the network: where hosts reach Berth's registry
  hosts: TestHost[];
  /** runArgs: more `docker run` flags; dataDir: where the host's volume is mounted (default /var/lib/docker). */
  addHost(opts: { image: string; authorizedKey: string; runArgs?: string[]; dataDir?: string }): Promise<TestHost>;
  /** Cuts a host off the network (host failure). */
  disconnect(host: TestHost): Promise<void>;
  remove(): Promise<void>;
}

export async function createTestNetwork(prefix: string): Promise<TestNetwork> {
  const name = `${prefix}-${process.pid}-${Date.now().toString(36)}`;
  await docker(['network', 'create', '--label', 'berth.test=1', name]);
  const gateway = await docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', name]);
  const hosts: TestHost[] = [];
  let made = 0;
  return {
    name, gateway, hosts,
    async addHost({ image, authorizedKey, runArgs = [], dataDir = '/var/lib/docker' }) {
      const hostName = `${name}-h${++made}`;
      const volume = `${hostName}-docker`;
      // Known before it exists, so remove() cleans up even when the start fails halfway.
      const host: TestHost = {
        name: hostName, address: '', volume,
        sh: (command) => docker(['exec', hostName, 'sh', '-c', command], { timeoutMs: 5 * 60_000 }),
      };
      hosts.push(host);
      await docker(['run', '-d', ...HOST_PRIVILEGES, '--name', hostName, '--hostname', hostName, '--network', name,
        '--label', 'berth.test=1', '-v', `${volume}:${dataDir}`, '-e', `AUTHORIZED_KEY=${authorizedKey}`, ...runArgs, image]);
      host.address = await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${name}").IPAddress}}`, hostName]);
      await waitForSsh(host);
      return host;
    },
    async disconnect(host) {
      await docker(['network', 'disconnect', '--force', name, host.name]);
    },
    async remove() {
      for (const host of hosts) {
        await docker(['rm', '-f', '-v', host.name], { allowFail: true, timeoutMs: 120_000 });
        await docker(['volume', 'rm', '-f', host.volume], { allowFail: true });
      }
      await docker(['network', 'rm', name], { allowFail: true });
    },
  };
}

async function waitForSsh(host: TestHost): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = await host.sh('ss -ltn 2>/dev/null | grep -c ":22 " || true').catch(() => '0');
    if (Number(out) > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd in ${host.name} did not start within 10 s`);
}

/** A throwaway operator key pair (what `berth hosts:add --ssh-key` reads). */
export function makeOperatorKey(): { privateKey: string; publicKey: string; dispose(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-operator-key-'));
  const file = path.join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator', '-f', file]);
  return {
    privateKey: fs.readFileSync(file, 'utf8'),
    publicKey: fs.readFileSync(`${file}.pub`, 'utf8').trim(),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** How host tests begin: the images ready, an operator key, a network of their own, and one host per image. */
export async function startTestHosts(prefix: string, images: string[]): Promise<{
  network: TestNetwork; key: ReturnType<typeof makeOperatorKey>; hosts: TestHost[];
}> {
  await ensureTestHostImages();
  const key = makeOperatorKey();
  const network = await createTestNetwork(prefix);
  const hosts = await Promise.all(images.map((image) => network.addHost({ image, authorizedKey: key.publicKey })));
  return { network, key, hosts };
}

export interface TaskLine { task: string; status: string; detail?: string }
export interface AddHostResult { status: number; lines: TaskLine[]; summary?: { ok: number; changed: number; wouldChange: number; failed: number; succeeded: boolean }; raw: string }

/**
 * POST /hosts and its NDJSON answer, split into task lines and the summary. A POST sent on a keep-alive
 * socket the server is just closing (Node's 5 s idle timeout, e.g. after a slow test setup) fails before
 * the server reads it; hosts:add is idempotent, so that one is sent once more.
 */
export async function addHostVia(server: { url: string; token: string }, body: Record<string, unknown>): Promise<AddHostResult> {
  const post = () => fetch(`${server.url}/api/v1/hosts`, {
    method: 'POST', headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const res = await post().catch((err) => {
    if ((err as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw err;
    return post();
  });
  const raw = await res.text();
  const records = res.status === 200 ? raw.split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  return {
    status: res.status, raw,
    lines: records.filter((r) => !r.done),
    summary: records.find((r) => r.done)?.summary,
  };
}
