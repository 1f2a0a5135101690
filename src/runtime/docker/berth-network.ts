// Every app gets a bridge network of its own on the local engine (`berth-<installation>-<app>`), carved out of
// the installation's address range: the engine drops traffic between two bridges, so one app's containers
// cannot reach another's. Instances join it at an address Berth assigns (src/runtime/docker/ip-pool.ts), so a
// restart keeps the address and the router (Caddy, a host process with an interface on every bridge) reaches
// them directly instead of through docker-proxy. The network is made when the app's first container starts
// and removed with its last one.
import os from 'node:os';
import type Docker from 'dockerode';
import { Semaphore } from '../../shared/semaphore.ts';
import { AppLocks } from '../../releases/app-lock.ts';
import { formatSubnet, gatewayOf, IpAllocator, overlaps, parseCidr, parseSubnet, type Subnet } from './ip-pool.ts';
import { isNotFound } from './errors.ts';

export interface NetworkPlacement { network: string; ip: string }

/** `auto` (no BERTH_NETWORK_SUBNET): the first of these that clashes with nothing, so two installations
 * on one engine (or a network someone else made) never stop each other from starting. */
export const AUTO_SUBNET = 'auto';
const AUTO_CANDIDATES = Array.from({ length: 24 }, (_, i) => `10.${213 + i}.0.0/16`);

/** An app's network is 8 bits longer than the range (a /24 of a /16), but never smaller than a /28 (13 instances). */
const APP_EXTRA_BITS = 8;
const SMALLEST_APP_PREFIX = 28;

const LABELS = { managed: 'berth.managed', owner: 'berth.owner', app: 'berth.app' } as const;

type Call = <T>(what: string, request: (signal: AbortSignal) => Promise<T>) => Promise<T>;

interface AppNetwork { name: string; subnet: Subnet; allocator: IpAllocator }
/** legacy: the shared network of an earlier version; ownApp: one of this installation's app networks. */
interface UsedSubnet { subnet: Subnet; what: string; legacy?: boolean; ownApp?: boolean }

export class AppNetworks {
  private readonly docker: Docker;
  private readonly owner: string;
  /** null: pick a free range from AUTO_CANDIDATES. */
  private readonly requested: Subnet | null;
  private readonly call: Call;
  /** The one network all local web instances shared before per-app networks; removed once nothing uses it. */
  readonly legacyName: string;
  private legacyGone = false;
  private range: Promise<Subnet> | null = null;
  private readonly known = new Map<string, Promise<AppNetwork>>();
  // Per app: making or removing its network, picking an address and creating the container that carries it
  // are one step, so two starts never pick one address and a removal never pulls the network from a start.
  private readonly perApp = new AppLocks();
  // Two apps' first starts must not carve the same subnet.
  private readonly carving = new Semaphore(1);

  constructor(opts: { docker: Docker; owner: string; subnet: string; call: Call }) {
    this.docker = opts.docker;
    this.owner = opts.owner;
    this.requested = opts.subnet === AUTO_SUBNET ? null : parseSubnet(opts.subnet);
    this.call = opts.call;
    this.legacyName = `berth-${opts.owner}`;
  }

  nameOf(app: string): string {
    return `berth-${this.owner}-${app}`;
  }

  /**
   * Chooses the address range (a clash with another network stops the server here, named) and drops the
   * networks no container uses any more: the legacy one, and app networks a crash left behind.
   */
  async prepare(): Promise<void> {
    await this.addressRange();
    await this.removeLegacyIfUnused();
    const networks = await this.call('listing networks', (abortSignal) =>
      this.docker.listNetworks({ filters: { label: [`${LABELS.owner}=${this.owner}`, LABELS.app] }, abortSignal }));
    for (const network of networks) {
      const app = network.Labels?.[LABELS.app];
      if (app) await this.release(app, async () => (await this.attached(network.Name)).length > 0);
    }
  }

  /** The app's network, made unless it exists; idempotent. */
  ensure(app: string): Promise<AppNetwork> {
    let network = this.known.get(app);
    if (!network) {
      network = this.inspectOrCarve(app);
      this.known.set(app, network);
      network.catch(() => this.known.delete(app));
    }
    return network;
  }

  /** Runs create with a free address on the app's network; `taken` lists the addresses the app's containers hold there. */
  place<T>(app: string, taken: (network: string) => Promise<string[]>, create: (placement: NetworkPlacement) => Promise<T>): Promise<T> {
    return this.perApp.run(app, async () => {
      for (let attempt = 1; ; attempt++) {
        const network = await this.ensure(app);
        const ip = network.allocator.pick(await taken(network.name));
        try {
          return await create({ network: network.name, ip });
        } catch (err) {
          // Someone ran `docker network prune` (or rm) while no container was attached: make it again, once.
          if (attempt > 1 || !/network .* not found/i.test((err as Error).message)) throw err;
          this.known.delete(app);
        }
      }
    });
  }

  /** Removes the app's network unless `inUse` says a container of the app (in any state) still exists. */
  async release(app: string, inUse: () => Promise<boolean>): Promise<void> {
    await this.perApp.run(app, async () => {
      if (await inUse()) return;
      this.known.delete(app);
      await this.removeNetwork(this.nameOf(app));
    });
    await this.removeLegacyIfUnused();
  }

  private async inspectOrCarve(app: string): Promise<AppNetwork> {
    const name = this.nameOf(app);
    const existing = await this.inspect(name);
    return existing ? this.fromExisting(existing, app) : this.carving.run(() => this.carve(app, name));
  }

  /** The first free subnet of the range; the engine's own overlap check settles a race with another installation. */
  private async carve(app: string, name: string): Promise<AppNetwork> {
    const range = await this.addressRange();
    const prefix = Math.min(prefixOf(range) + APP_EXTRA_BITS, SMALLEST_APP_PREFIX);
    const size = 2 ** (32 - prefix);
    const used = (await this.subnetsInUse()).map((u) => u.subnet);
    for (let base = range.base; base < range.base + range.size; base += size) {
      const subnet = { base, size };
      if (used.some((other) => overlaps(subnet, other))) continue;
      try {
        await this.call(`creating network ${name}`, (abortSignal) => this.docker.createNetwork({
          Name: name, Driver: 'bridge', CheckDuplicate: true,
          IPAM: { Driver: 'default', Config: [{ Subnet: formatSubnet(subnet), Gateway: gatewayOf(subnet) }] },
          Labels: { [LABELS.managed]: '1', [LABELS.owner]: this.owner, [LABELS.app]: app },
          abortSignal,
        } as Docker.NetworkCreateOptions));
        return { name, subnet, allocator: new IpAllocator(subnet) };
      } catch (err) {
        if (/overlaps/i.test((err as Error).message)) continue; // taken since we listed: try the next one
        const raced = (err as { statusCode?: number }).statusCode === 409 ? await this.inspect(name) : null;
        if (raced) return this.fromExisting(raced, app);
        throw err;
      }
    }
    throw new Error(`no free /${prefix} left in ${formatSubnet(range)} for the network of ${app}: set BERTH_NETWORK_SUBNET to a larger free range`);
  }

  /** An existing network keeps the subnet it was made with: its containers hold addresses in it. */
  private fromExisting(network: Docker.NetworkInspectInfo, app: string): AppNetwork {
    const owner = network.Labels?.[LABELS.owner];
    if (owner !== this.owner || network.Labels?.[LABELS.app] !== app) {
      throw new Error(`Docker network ${network.Name} exists and is not this Berth installation's network of ${app} (owner: ${owner ?? 'none'})`);
    }
    const cidr = network.IPAM?.Config?.[0]?.Subnet;
    if (!cidr) throw new Error(`Docker network ${network.Name} has no IPv4 subnet`);
    const subnet = parseSubnet(cidr);
    return { name: network.Name, subnet, allocator: new IpAllocator(subnet) };
  }

  /** A chosen range must be free (else refuse, naming the clash); `auto` takes the first free candidate. */
  private addressRange(): Promise<Subnet> {
    this.range ??= this.chooseRange().catch((err) => {
      this.range = null;
      throw err;
    });
    return this.range;
  }

  private async chooseRange(): Promise<Subnet> {
    // This installation's own app networks lie inside its range: they are no clash.
    const inUse = (await this.subnetsInUse()).filter((u) => !u.ownApp);
    if (this.requested) {
      const clash = inUse.find((other) => overlaps(this.requested!, other.subnet));
      // Upgraded from the shared network, which holds the whole range until its last instance is replaced:
      // the app networks take a free range meanwhile (each keeps its subnet afterwards).
      if (!clash) return this.requested;
      if (!clash.legacy) throw new Error(`Berth's network subnet ${formatSubnet(this.requested)} overlaps ${clash.what}: set BERTH_NETWORK_SUBNET to a free range`);
    }
    for (const candidate of AUTO_CANDIDATES.map(parseSubnet)) {
      if (!inUse.some((other) => overlaps(candidate, other.subnet))) return candidate;
    }
    throw new Error(`no free subnet among ${AUTO_CANDIDATES[0]}-${AUTO_CANDIDATES.at(-1)} for Berth's app networks: set BERTH_NETWORK_SUBNET to a free range`);
  }

  private async removeLegacyIfUnused(): Promise<void> {
    if (this.legacyGone) return;
    const legacy = await this.inspect(this.legacyName);
    if (!legacy || legacy.Labels?.[LABELS.owner] !== this.owner) {
      this.legacyGone = true;
      return;
    }
    if ((await this.attached(this.legacyName)).length > 0) return;
    await this.removeNetwork(this.legacyName);
    this.legacyGone = true;
  }

  /** Containers on a network, stopped ones too: removing it would keep them from starting again. */
  private attached(network: string): Promise<Docker.ContainerInfo[]> {
    return this.call('listing containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { network: [network] }, abortSignal }));
  }

  /** Gone already, or still in use after all (a container attached meanwhile): both leave it be. */
  private async removeNetwork(name: string): Promise<void> {
    await this.call(`removing network ${name}`, (abortSignal) => this.docker.getNetwork(name).remove({ abortSignal }))
      .catch((err) => {
        if (!isNotFound(err) && !/active endpoints|in use/i.test((err as Error).message)) throw err;
      });
  }

  private async inspect(name: string): Promise<Docker.NetworkInspectInfo | null> {
    try {
      return await this.call(`inspecting network ${name}`, () => this.docker.getNetwork(name).inspect());
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Docker networks' and host interfaces' subnets: sharing one would make some addresses unreachable. */
  private async subnetsInUse(): Promise<UsedSubnet[]> {
    const found: UsedSubnet[] = [];
    const networks = await this.call('listing networks', (abortSignal) => this.docker.listNetworks({ abortSignal }));
    for (const network of networks) {
      const ours = network.Labels?.[LABELS.owner] === this.owner;
      const legacy = ours && network.Name === this.legacyName;
      const ownApp = ours && network.Labels?.[LABELS.app] !== undefined;
      for (const config of network.IPAM?.Config ?? []) {
        const other = config.Subnet ? parseCidr(config.Subnet) : null;
        if (other) found.push({ subnet: other, what: `Docker network ${network.Name} (${config.Subnet})`, legacy, ownApp });
      }
    }
    // A bridge's own interface (br-…, docker0) is the network listed above, with its owner: not counted twice.
    const isBridge = (s: Subnet) => found.some((f) => f.subnet.base === s.base && f.subnet.size === s.size);
    for (const [iface, addresses] of Object.entries(os.networkInterfaces())) {
      for (const address of addresses ?? []) {
        const other = address.family === 'IPv4' && !address.internal && address.cidr ? parseCidr(address.cidr) : null;
        if (other && !isBridge(other)) found.push({ subnet: other, what: `the host's ${iface} (${address.cidr})` });
      }
    }
    return found;
  }
}

function prefixOf(subnet: Subnet): number {
  return 32 - Math.log2(subnet.size);
}
