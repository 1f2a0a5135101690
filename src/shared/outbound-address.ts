// Which addresses a request Berth makes on a user's behalf (alert webhooks) may reach. Public unicast
// addresses only: never loopback, private, link-local, CGNAT, multicast or other special ranges, and never
// Berth's own listeners (the API, the registry, Caddy's admin API when it is on TCP), on whatever address of
// this machine they answer. The operator opens internal receivers with an allow-list of ranges
// (BERTH_WEBHOOK_ALLOW); Berth's own listeners open only to an exact ADDRESS:PORT entry. Pure: no DNS here.
import net from 'node:net';

export type AddressKind =
  | 'public' | 'unspecified' | 'loopback' | 'private' | 'link-local' | 'shared (CGNAT)' | 'multicast'
  | 'reserved' | 'documentation' | 'IPv4-mapped IPv6' | 'IPv4/IPv6 translation' | 'benchmarking';

// Checked in this order: the first list holding the address names its kind.
const SPECIAL_RANGES: [AddressKind, string[]][] = [
  ['IPv4-mapped IPv6', ['::ffff:0:0/96']],
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']],
  ['shared (CGNAT)', ['100.64.0.0/10']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  ['documentation', ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32']],
  ['benchmarking', ['198.18.0.0/15', '2001:2::/48']],
  // 6to4, NAT64 and Teredo embed an IPv4 address that could be any of the above.
  ['IPv4/IPv6 translation', ['192.88.99.0/24', '2002::/16', '64:ff9b::/96', '64:ff9b:1::/48', '2001::/32']],
  // IETF protocol assignments, the old IPv4-compatible and site-local IPv6 ranges, 240/4 and broadcast.
  ['reserved', ['192.0.0.0/24', '240.0.0.0/4', '::/96', '100::/64', '2001::/23', 'fec0::/10']],
];

// One list per family: a BlockList matches an IPv4 address against IPv6 rules through its mapped form
// (::ffff:0:0/96 would hold every IPv4 address), so IPv4 is checked against IPv4 ranges only.
const blocksOf = (family: 'ipv4' | 'ipv6'): [AddressKind, net.BlockList][] => SPECIAL_RANGES.map(([kind, cidrs]) => {
  const list = new net.BlockList();
  for (const cidr of cidrs) if (familyOf(cidr.slice(0, cidr.lastIndexOf('/'))) === family) addCidr(list, cidr);
  return [kind, list];
});
const BLOCKS = { ipv4: blocksOf('ipv4'), ipv6: blocksOf('ipv6') };

const GLOBAL_UNICAST_V6 = new net.BlockList();
GLOBAL_UNICAST_V6.addSubnet('2000::', 3, 'ipv6');

/** The kind of an IP address (no brackets, no zone); anything that is not 'public' is refused by default. */
export function addressKind(ip: string): AddressKind {
  const family = familyOf(ip);
  for (const [kind, list] of BLOCKS[family]) if (list.check(ip, family)) return kind;
  // IPv6 outside 2000::/3 is not assigned for global unicast.
  if (family === 'ipv6' && !GLOBAL_UNICAST_V6.check(ip, 'ipv6')) return 'reserved';
  return 'public';
}

export interface AllowList {
  /** Ranges (CIDR or a single address) whose addresses may be reached on any port but Berth's own. */
  ranges: net.BlockList;
  /** Exact ADDRESS:PORT endpoints, the only way to reach one of Berth's own listeners. */
  endpoints: Set<string>;
  /** The entries as given, for messages. */
  text: string[];
}

/**
 * Parses "10.1.0.0/16,192.168.5.7,fd00::/8,127.0.0.1:9000,[::1]:9000". Throws on an entry that is none
 * of these, naming it, so a typo stops the server at start instead of silently allowing nothing.
 */
export function parseAllowList(raw: string | undefined): AllowList {
  const allow: AllowList = { ranges: new net.BlockList(), endpoints: new Set(), text: [] };
  for (const entry of (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const endpoint = parseEndpoint(entry);
    if (endpoint) {
      allow.endpoints.add(endpointKey(endpoint.ip, endpoint.port));
    } else {
      try {
        addCidr(allow.ranges, entry.includes('/') ? entry : `${entry}/${net.isIPv6(entry) ? 128 : 32}`);
      } catch {
        throw new Error(`BERTH_WEBHOOK_ALLOW: "${entry}" is not a CIDR range (10.0.0.0/8, fd00::/8), an address or ADDRESS:PORT`);
      }
    }
    allow.text.push(entry);
  }
  return allow;
}

export interface OutboundPolicyOptions {
  allow?: AllowList;
  /** This machine's own addresses (all interfaces), read on every check since interfaces come and go. */
  ownAddresses?: () => Iterable<string>;
  /** Ports of Berth's own listeners (API, registry, Caddy admin on TCP): refused on any of this machine's addresses. */
  ownPorts?: Iterable<number>;
  /** Ports that may be reached on this machine's public addresses: the router's, where apps hosted here answer. */
  routerPorts?: Iterable<number>;
}

export type OutboundVerdict =
  | { allowed: true }
  | { allowed: false; kind: AddressKind | 'this host' | "Berth's own service"; reason: string };

export class OutboundPolicy {
  readonly #allow: AllowList;
  readonly #ownAddresses: () => Iterable<string>;
  readonly #ownPorts: Set<number>;
  readonly #routerPorts: Set<number>;

  constructor(opts: OutboundPolicyOptions = {}) {
    this.#allow = opts.allow ?? parseAllowList('');
    this.#ownAddresses = opts.ownAddresses ?? (() => []);
    this.#ownPorts = new Set(opts.ownPorts ?? []);
    this.#routerPorts = new Set(opts.routerPorts ?? []);
  }

  /** Whether a connection to ip:port may be made. ip as dialed: no brackets, IPv6 zone ids refused. */
  check(ip: string, port: number): OutboundVerdict {
    if (!net.isIP(ip) || ip.includes('%')) return refused('reserved', `${ip} is not a plain IP address`);
    if (this.#allow.endpoints.has(endpointKey(ip, port))) return { allowed: true };
    const kind = addressKind(ip);
    const own = kind === 'loopback' || kind === 'unspecified' || kind === 'IPv4-mapped IPv6' || this.#isOwnAddress(ip);
    if (own && this.#ownPorts.has(port)) {
      return refused("Berth's own service", `${ip}:${port} is one of Berth's own services`);
    }
    if (this.#allow.ranges.check(ip, familyOf(ip))) return { allowed: true };
    if (kind !== 'public') return refused(kind, `${ip} is a ${kind} address`);
    if (own && !this.#routerPorts.has(port)) return refused('this host', `${ip} is this machine's own address`);
    return { allowed: true };
  }

  #isOwnAddress(ip: string): boolean {
    const canonical = canonicalIp(ip);
    for (const own of this.#ownAddresses()) if (canonicalIp(own) === canonical) return true;
    return false;
  }
}

function refused(kind: Exclude<OutboundVerdict, { allowed: true }>['kind'], reason: string): OutboundVerdict {
  return { allowed: false, kind, reason };
}

function familyOf(ip: string): 'ipv4' | 'ipv6' {
  return net.isIPv6(ip) ? 'ipv6' : 'ipv4';
}

function addCidr(list: net.BlockList, cidr: string): void {
  const slash = cidr.lastIndexOf('/');
  const ip = cidr.slice(0, slash);
  const bits = Number(cidr.slice(slash + 1));
  const family = familyOf(ip);
  if (!net.isIP(ip) || !/^\d{1,3}$/.test(cidr.slice(slash + 1)) || bits > (family === 'ipv4' ? 32 : 128)) {
    throw new Error(`invalid CIDR ${cidr}`);
  }
  list.addSubnet(ip, bits, family);
}

function parseEndpoint(entry: string): { ip: string; port: number } | null {
  const m = /^\[([0-9a-f:.]+)\]:(\d{1,5})$/i.exec(entry) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(entry);
  if (!m || !net.isIP(m[1])) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { ip: m[1], port } : null;
}

/** One spelling per address (::1 and 0:0:0:0:0:0:0:1 alike), through SocketAddress's normalisation. */
function canonicalIp(ip: string): string {
  return net.SocketAddress.parse(net.isIPv6(ip) ? `[${ip}]:0` : `${ip}:0`)?.address ?? ip;
}

function endpointKey(ip: string, port: number): string {
  return `${canonicalIp(ip)}|${port}`;
}
