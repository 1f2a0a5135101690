// Berth picks the IP of every local web instance itself, on its own network: Docker would give a container
// that crashed and restarted whatever address is free, and another app's container could take the old one,
// so a route by IP would send one app's traffic to another. An address is free when no Berth container holds
// it (its berth.ip label, running or not) and no start in flight picked it.

export interface Subnet { base: number; size: number }

/** Parses an IPv4 CIDR ("10.213.0.0/16") Berth can hand addresses out of; throws on anything else. */
export function parseSubnet(cidr: string): Subnet {
  const subnet = parseCidr(cidr);
  if (!subnet || subnet.size > 2 ** 24 || subnet.size < 16) {
    throw new Error(`"${cidr}" is not an IPv4 subnet between /8 and /28 (like 10.213.0.0/16)`);
  }
  return subnet;
}

/** Any IPv4 CIDR (a host interface's, another network's); null when it is not one. */
export function parseCidr(cidr: string): Subnet | null {
  const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  const ip = match ? ipToInt(match[1]) : null;
  const bits = match ? Number(match[2]) : NaN;
  if (ip === null || !(bits >= 0 && bits <= 32)) return null;
  const size = 2 ** (32 - bits);
  return { base: ip - (ip % size), size };
}

export function formatSubnet(subnet: Subnet): string {
  return `${intToIp(subnet.base)}/${32 - Math.log2(subnet.size)}`;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

export function ipToInt(ip: string): number | null {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  return ((parts[0] * 256 + parts[1]) * 256 + parts[2]) * 256 + parts[3];
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The first host address of a subnet: Docker's default gateway, so never handed out. */
export function gatewayOf(subnet: Subnet): string {
  return intToIp(subnet.base + 1);
}

export class IpAllocator {
  private readonly first: number;
  private readonly last: number;
  private cursor: number;

  constructor(subnet: Subnet) {
    // Skip the network address, the gateway and the broadcast address.
    this.first = subnet.base + 2;
    this.last = subnet.base + subnet.size - 2;
    this.cursor = this.first;
  }

  /** Next free address after the last one given out: a just-freed address is the last to be reused. */
  pick(taken: Iterable<string>): string {
    const used = new Set(taken);
    const count = this.last - this.first + 1;
    for (let tried = 0; tried < count; tried++) {
      const ip = intToIp(this.cursor);
      this.cursor = this.cursor >= this.last ? this.first : this.cursor + 1;
      if (!used.has(ip)) return ip;
    }
    throw new Error(`No free address left on Berth's network (${intToIp(this.first)}-${intToIp(this.last)}).`);
  }
}
