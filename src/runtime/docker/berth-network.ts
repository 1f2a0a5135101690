// The installation's own bridge network on the local engine: web instances join it with an address Berth
// assigns (src/runtime/docker/ip-pool.ts), so the router can reach them directly instead of through
// docker-proxy on the published port, and a restart keeps the address.
import os from 'node:os';
import type Docker from 'dockerode';
import { Semaphore } from '../../shared/semaphore.ts';
import { formatSubnet, gatewayOf, IpAllocator, overlaps, parseCidr, parseSubnet, type Subnet } from './ip-pool.ts';

export interface NetworkPlacement { network: string; ip: string }

/** `auto` (no BERTH_NETWORK_SUBNET): the first of these that clashes with nothing, so two installations
 * on one engine (or a network someone else made) never stop each other from starting. */
export const AUTO_SUBNET = 'auto';
const AUTO_CANDIDATES = Array.from({ length: 24 }, (_, i) => `10.${213 + i}.0.0/16`);

type Call = <T>(what: string, request: (signal: AbortSignal) => Promise<T>) => Promise<T>;

export class BerthNetwork {
  readonly name: string;
  private readonly docker: Docker;
  private readonly owner: string;
  /** null: pick a free one from AUTO_CANDIDATES when the network is first made. */
  private readonly subnet: Subnet | null;
  private readonly call: Call;
  private ready: Promise<IpAllocator> | null = null;
  // Picking an address and creating the container that carries it as a label is one step: two starts
  // in between could otherwise pick the same address.
  private readonly picking = new Semaphore(1);

  constructor(opts: { docker: Docker; owner: string; subnet: string; call: Call }) {
    this.docker = opts.docker;
    this.owner = opts.owner;
    this.subnet = opts.subnet === AUTO_SUBNET ? null : parseSubnet(opts.subnet);
    this.call = opts.call;
    this.name = `berth-${opts.owner}`;
  }

  /** Creates the network unless it exists; idempotent, and repeated after the network was removed under us. */
  ensure(): Promise<IpAllocator> {
    this.ready ??= this.createUnlessPresent().catch((err) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  /** Runs create with a free address; `taken` lists the addresses Berth's containers hold. */
  place<T>(taken: () => Promise<string[]>, create: (placement: NetworkPlacement) => Promise<T>): Promise<T> {
    return this.picking.run(async () => {
      for (let attempt = 1; ; attempt++) {
        const allocator = await this.ensure();
        const ip = allocator.pick(await taken());
        try {
          return await create({ network: this.name, ip });
        } catch (err) {
          // Someone ran `docker network prune` (or rm) while no instance was attached: make it again, once.
          if (attempt > 1 || !/network .* not found/i.test((err as Error).message)) throw err;
          this.ready = null;
        }
      }
    });
  }

  private async createUnlessPresent(): Promise<IpAllocator> {
    const existing = await this.inspect();
    if (existing) return new IpAllocator(this.subnetOf(existing));
    const subnet = await this.chooseSubnet();
    await this.call(`creating network ${this.name}`, (abortSignal) => this.docker.createNetwork({
      Name: this.name, Driver: 'bridge', CheckDuplicate: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: formatSubnet(subnet), Gateway: gatewayOf(subnet) }] },
      Labels: { 'berth.managed': '1', 'berth.owner': this.owner },
      abortSignal,
    } as Docker.NetworkCreateOptions));
    return new IpAllocator(subnet);
  }

  /** A chosen subnet must be free (else refuse, naming the clash); `auto` takes the first free candidate. */
  private async chooseSubnet(): Promise<Subnet> {
    const inUse = await this.subnetsInUse();
    if (this.subnet) {
      const clash = inUse.find((other) => overlaps(this.subnet!, other.subnet));
      if (clash) throw new Error(`Berth's network subnet ${formatSubnet(this.subnet)} overlaps ${clash.what}: set BERTH_NETWORK_SUBNET to a free range`);
      return this.subnet;
    }
    for (const candidate of AUTO_CANDIDATES.map(parseSubnet)) {
      if (!inUse.some((other) => overlaps(candidate, other.subnet))) return candidate;
    }
    throw new Error(`no free subnet among ${AUTO_CANDIDATES[0]}-${AUTO_CANDIDATES.at(-1)} for Berth's network: set BERTH_NETWORK_SUBNET to a free range`);
  }

  private async inspect(): Promise<Docker.NetworkInspectInfo | null> {
    try {
      return await this.call(`inspecting network ${this.name}`, () => this.docker.getNetwork(this.name).inspect());
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }

  /** An existing network keeps the subnet it was made with: its instances hold addresses in it. */
  private subnetOf(network: Docker.NetworkInspectInfo): Subnet {
    const owner = network.Labels?.['berth.owner'];
    if (owner !== this.owner) {
      throw new Error(`Docker network ${this.name} exists and is not this Berth installation's (owner: ${owner ?? 'none'})`);
    }
    const cidr = network.IPAM?.Config?.[0]?.Subnet;
    if (!cidr) throw new Error(`Docker network ${this.name} has no IPv4 subnet`);
    return parseSubnet(cidr);
  }

  /** Docker networks' and host interfaces' subnets: sharing one would make some addresses unreachable. */
  private async subnetsInUse(): Promise<{ subnet: Subnet; what: string }[]> {
    const found: { subnet: Subnet; what: string }[] = [];
    const networks = await this.call('listing networks', (abortSignal) => this.docker.listNetworks({ abortSignal }));
    for (const network of networks) {
      for (const config of network.IPAM?.Config ?? []) {
        const other = config.Subnet ? parseCidr(config.Subnet) : null;
        if (other) found.push({ subnet: other, what: `Docker network ${network.Name} (${config.Subnet})` });
      }
    }
    for (const [iface, addresses] of Object.entries(os.networkInterfaces())) {
      for (const address of addresses ?? []) {
        const other = address.family === 'IPv4' && !address.internal && address.cidr ? parseCidr(address.cidr) : null;
        if (other) found.push({ subnet: other, what: `the host's ${iface} (${address.cidr})` });
      }
    }
    return found;
  }
}
