// apps:connect over SSH: the fetcher with a deploy key Berth generated, against a real sshd (a test host
// container, git installed from the apt mirror) serving a bare repository. The first host key seen is
// kept; a changed one, a key the host does not know, or an address the policy refuses all fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RepoFetcher, type FetchRequest } from '../src/connect/repo-fetcher.ts';
import { generateDeployKey, type DeployKey } from '../src/connect/deploy-key.ts';
import { parseRepoUrl } from '../src/connect/repo-url.ts';
import { OutboundPolicy, parseAllowList } from '../src/shared/outbound-address.ts';
import { OutboundGuard } from '../src/shared/outbound-request.ts';
import { BerthError } from '../src/shared/errors.ts';
import { FRESH_IMAGE, startTestHosts, type TestHost, type TestNetwork } from './support/test-hosts.ts';

let network: TestNetwork;
let gitHost: TestHost;
let deployKey: DeployKey;
let work: string;
let target: string;
let tip: string;

before(async () => {
  deployKey = await generateDeployKey('berth-deploy-ssh-test');
  const started = await startTestHosts('berth-connect-ssh', [FRESH_IMAGE]);
  started.key.dispose();
  network = started.network;
  gitHost = started.hosts[0]!;
  // The git host knows the deploy key (as a repository's deploy keys would) and serves /srv/site.git.
  await gitHost.sh(`echo '${deployKey.publicKey}' >> /root/.ssh/authorized_keys`);
  await gitHost.sh('apt-get install -y -qq --no-install-recommends git >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends git >/dev/null)');
  tip = await gitHost.sh([
    'set -e', 'git init -q --bare /srv/site.git', 'git init -q -b main /tmp/w', 'cd /tmp/w', 'echo one > index.html',
    'git add -A', 'git -c user.name=t -c user.email=t@example.com commit -qm one', 'git push -q /srv/site.git main', 'git rev-parse HEAD',
  ].join(' && '));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-connect-ssh-'));
  target = path.join(work, 'target.git');
  execFileSync('git', ['init', '-q', '--bare', target]);
});

after(async () => {
  await network?.remove();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function fetcher(allow = `${gitHost.address}:22`): RepoFetcher {
  const guard = new OutboundGuard(new OutboundPolicy({ allow: parseAllowList(allow) }));
  return new RepoFetcher({ guard, workDir: path.join(work, 'scratch'), extraCaFile: null, maxBytes: 10 * 1024 * 1024, timeoutMs: 60_000, log: () => {} });
}

const request = (url: string, extra: Partial<FetchRequest> = {}): FetchRequest => ({
  gitDir: target, repo: parseRepoUrl(url), branch: 'main', targetRef: 'refs/berth/connected', deployKey: deployKey.privateKey, knownHosts: null, ...extra,
});

let knownHosts = '';

test('fetches over SSH with the deploy key (scp-like URL); the host key first seen is returned to keep', async () => {
  const result = await fetcher().fetch(request(`root@${gitHost.address}:/srv/site.git`));
  assert.equal(result.sha, tip.trim());
  assert.match(result.knownHosts ?? '', new RegExp(`^${gitHost.address.replaceAll('.', '\\.')} ssh-ed25519 `, 'm'));
  knownHosts = result.knownHosts!;
});

test('the kept host key lets later fetches in (ssh:// URL too); a changed one is refused', async () => {
  const again = await fetcher().fetch(request(`ssh://root@${gitHost.address}/srv/site.git`, { knownHosts }));
  assert.equal(again.sha, tip.trim());
  const impostor = await generateDeployKey('impostor');
  const forged = `${gitHost.address} ${impostor.publicKey.split(' ').slice(0, 2).join(' ')}\n`;
  await assert.rejects(fetcher().fetch(request(`root@${gitHost.address}:/srv/site.git`, { knownHosts: forged })),
    /git fetch failed: .*(Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED)/);
});

test('a key the git host does not know is refused, without prompting', async () => {
  const stranger = await generateDeployKey('stranger');
  await assert.rejects(fetcher().fetch(request(`root@${gitHost.address}:/srv/site.git`, { deployKey: stranger.privateKey, knownHosts })),
    /git fetch failed: .*Permission denied/);
});

test('the host\'s private address is refused unless the operator allows it', async () => {
  await assert.rejects(fetcher('').fetch(request(`root@${gitHost.address}:/srv/site.git`)),
    (err: BerthError) => err.status === 422 && /is a private address, which Berth may not reach/.test(err.message));
});
