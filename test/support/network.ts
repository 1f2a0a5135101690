// Each test server gets a Berth network range of its own (a /24 in 10.214.0.0/16, which its apps' networks are
// carved from), free on this engine, as it gets its own block of host ports. Networks of test servers long gone
// are removed first, so they do not use up the range: only unused ones (no container at all refers to them)
// made more than 10 minutes ago.
import { execFileSync } from 'node:child_process';
import { overlaps, parseCidr, type Subnet } from '../../src/runtime/docker/ip-pool.ts';

const TEST_RANGE = parseCidr('10.214.0.0/16')!;
const inTestRange = (cidr: string | undefined) => {
  const subnet = cidr ? parseCidr(cidr) : null;
  return subnet !== null && overlaps(subnet, TEST_RANGE);
};
const STALE_MS = 10 * 60_000;

interface NetworkInfo { Name: string; Created: string; Labels: Record<string, string> | null; IPAM: { Config: { Subnet?: string }[] | null } }

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function networks(): NetworkInfo[] {
  const ids = docker(['network', 'ls', '-q']).split('\n').filter(Boolean);
  return ids.length ? JSON.parse(docker(['network', 'inspect', ...ids])) : [];
}

function removeStale(all: NetworkInfo[]): NetworkInfo[] {
  return all.filter((n) => {
    const ours = (n.IPAM.Config ?? []).some((c) => inTestRange(c.Subnet));
    const stale = Date.now() - Date.parse(n.Created) > STALE_MS;
    if (!ours || !stale || !n.Labels?.['berth.owner'] || !n.Name.startsWith('berth-')) return true;
    if (docker(['ps', '-aq', '--filter', `network=${n.Name}`]).trim()) return true;
    try { docker(['network', 'rm', n.Name]); return false; } catch { return true; }
  });
}

/**
 * Ranges already handed to a server of this process: a server that has no app yet has no network on the engine
 * to show its range is taken (two servers of one file once drew the same /24, and the second refused to start
 * when it switched to container-ip routing beside the first one's apps).
 */
const handedOut: Subnet[] = [];

/** A /24 by default (16 app networks); a benchmark with more apps asks for a /22 (64) or wider. */
export function testNetworkSubnet(prefixLength = 24): string {
  if (!Number.isInteger(prefixLength) || prefixLength < 17 || prefixLength > 24) throw new Error(`prefix length ${prefixLength}: 17-24`);
  // An app network (a /28) inside a /24 takes that /24 too.
  const taken: Subnet[] = removeStale(networks()).flatMap((n) => (n.IPAM.Config ?? []).map((c) => parseCidr(c.Subnet ?? '')))
    .filter((subnet) => subnet !== null).concat(handedOut);
  const step = 2 ** (24 - prefixLength);
  for (let tried = 0; tried < 256; tried++) {
    const subnet = `10.214.${Math.floor(Math.random() * (256 / step)) * step}.0/${prefixLength}`;
    const candidate = parseCidr(subnet)!;
    if (taken.some((other) => overlaps(candidate, other))) continue;
    handedOut.push(candidate);
    return subnet;
  }
  throw new Error('no free test subnet in 10.214.0.0/16');
}
