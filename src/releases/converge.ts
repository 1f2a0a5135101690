// The one mechanism behind deploy, config change, rollback, scale, resize, restart and reconcile:
// make the running instances of an app match a target (release + formation) without dropping a request.
//   1. keep instances that already match the target; start the missing ones
//   2. new web instances must pass the health check, else they are removed and the change fails
//   3. switch the route to the new set of web instances
//   4. after a drain period, stop what is no longer wanted
import type { Instance, InstanceSpec, Runtime } from '../runtime/types.ts';
import type { AppRoute, CanaryRouting, MaintenancePage, Router } from '../router/types.ts';
import { DNS_SWITCH_MS, type AddressBook } from '../router/dnsmasq/address-book.ts';
import type { FormationEntry } from '../state/schema.ts';
import type { PortAllocator } from './ports.ts';
import { describeFailure, FAILURE_LINES, lastLines, waitHealthy } from './health.ts';
import { afterReleasePhase, splitForReleasePhase, type Ended } from './release-phase.ts';
import { BerthError } from '../shared/errors.ts';

export const DEFAULT_CONTAINER_PORT = 5000;

/**
 * The port web instances listen on: Heroku's PORT, 5000, unless the image declares exactly one other
 * port (EXPOSE 80 in an nginx image, say), which apps that ignore PORT listen on: then PORT says that one.
 */
export function containerPortFor(exposedPorts: number[]): number {
  return exposedPorts.length === 1 ? exposedPorts[0] : DEFAULT_CONTAINER_PORT;
}

export interface Target {
  app: string;
  /** null (or no image): the app runs nothing, its route answers 503. */
  release: { version: number; image: string | null; config: Record<string, string>; containerPort: number | null } | null;
  formation: FormationEntry[];
  hostnames: string[];
  /** What new web instances must answer before they get traffic (HEALTHCHECK_PATH / _TIMEOUT, resolved). */
  health: { path: string; timeoutSec: number };
  /** Return once the new instances serve; the old ones drain and stop afterwards (a push needn't wait for them). */
  drainInBackground?: boolean;
  /** Set: the route answers this 503 page instead of the instances (which run on). */
  maintenance?: MaintenancePage | null;
  /** The release phase, running: new web instances start meanwhile, nothing is routed unless it succeeds. */
  releasePhase?: Promise<void> | null;
  /** Set: this release's web instances run beside the release's and get the requests `routing` picks. */
  canary?: { release: NonNullable<Target['release']>; routing: CanaryRouting } | null;
}

export interface ConvergeSettings {
  drainSec: number;
  stopTimeoutSec: number;
  /** container-ip: instances with an address on Berth's network are routed there (no docker-proxy). */
  routeVia?: 'container-ip' | 'host-port';
  /**
   * The app DNS (src/router/dnsmasq): local web instances are routed by a name whose addresses change behind
   * it, so a release writes nothing to the router. null: routes list the instances (a write per release).
   */
  addresses?: AddressBook | null;
  /** Where a background drain's failure is told (the request that started it has returned). */
  log?: (line: string) => void;
}
export type Progress = (line: string) => void;

const ALIVE = new Set(['running', 'restarting']);

export class Converger {
  private readonly runtime: Runtime;
  private readonly router: Router;
  private readonly ports: PortAllocator;
  private readonly settings: ConvergeSettings;
  /** Old instances draining after their change returned, per app (destroy and stop wait for them). */
  private readonly draining = new Map<string, Promise<void>>();
  /** Their ids: the app's next change leaves them to their drain instead of waiting for it. */
  private readonly drainingIds = new Set<string>();

  constructor(runtime: Runtime, router: Router, ports: PortAllocator, settings: ConvergeSettings) {
    this.runtime = runtime;
    this.router = router;
    this.ports = ports;
    this.settings = settings;
  }

  async converge(target: Target, progress: Progress = () => {}): Promise<Instance[]> {
    const everything = await this.runtime.list();
    const existing = everything.filter((i) => i.app === target.app && !this.drainingIds.has(i.id));
    const desired = desiredSpecs(target);
    const kept = new Map<string, Instance>();
    for (const inst of existing) {
      const key = instanceKey(inst);
      if (ALIVE.has(inst.state) && desired.has(key) && !kept.has(key)) kept.set(key, inst);
    }
    const missing = [...desired.entries()].filter(([key]) => !kept.has(key)).map(([, spec]) => spec);
    const portsInUse = everything.map((i) => i.hostPort).filter((p): p is number => p !== null);
    const serving = existing.some((i) => i.process === 'web' && ALIVE.has(i.state));
    const started = target.releasePhase
      ? await this.startDuringReleasePhase(target, target.releasePhase, missing, portsInUse, serving, progress)
      : await this.startHealthy(target, missing, portsInUse, serving, progress);
    const live = [...kept.values(), ...started];
    const canary = target.canary ?? null;
    const webOf = (release: number | undefined) => live.filter((i) => i.process === 'web' && i.hostPort !== null && i.release === release)
      .sort((a, b) => a.index - b.index);
    const web = canary ? webOf(target.release?.version) : live.filter((i) => i.process === 'web' && i.hostPort !== null).sort((a, b) => a.index - b.index);
    const stableRoute = await this.routeTo(target, web);
    const canaryUpstreams = canary ? webOf(canary.release.version).map((i) => upstreamOf(i, this.settings.routeVia ?? 'host-port')) : [];
    const route = canary ? { ...stableRoute, canary: { ...canary.routing, upstreams: canaryUpstreams } } : stableRoute;
    await this.router.setRoute(target.maintenance ? { ...route, maintenance: target.maintenance } : route);
    if (started.length) progress(`Routing ${target.hostnames[0]} to ${web.length} web instance(s).`);
    const keptIds = new Set(live.map((i) => i.id));
    const retired = existing.filter((i) => !keptIds.has(i.id));
    if (retired.length) {
      const wasServing = retired.some((i) => i.process === 'web' && ALIVE.has(i.state));
      const drainSec = wasServing ? this.settings.drainSec : 0;
      if (target.drainInBackground) {
        progress(`${retired.length} old instance(s) stop after ${drainSec ? `a ${drainSec} s drain` : 'this'}, in the background.`);
        this.drainLater(target.app, retired, drainSec);
      } else {
        if (drainSec > 0) await sleep(drainSec * 1000);
        progress(`Stopping ${retired.length} old instance(s).`);
        await this.removeAll(retired, this.settings.stopTimeoutSec);
      }
    }
    return live;
  }

  /** Resolves once no earlier change of the app is still draining (never rejects). */
  private drained(app: string): Promise<void> {
    return this.draining.get(app) ?? Promise.resolve();
  }

  private drainLater(app: string, retired: Instance[], drainSec: number): void {
    retired.forEach((i) => this.drainingIds.add(i.id));
    const earlier = this.drained(app);
    const done = (async () => {
      if (drainSec > 0) await sleep(drainSec * 1000);
      await this.removeAll(retired, this.settings.stopTimeoutSec);
      await earlier;
    })().catch((err) => {
      // They are not wanted, so the app's next change stops them again.
      this.settings.log?.(`${app}: stopping ${retired.length} old instance(s) after the drain failed: ${(err as Error).message}`);
    }).finally(() => {
      retired.forEach((i) => this.drainingIds.delete(i.id));
      if (this.draining.get(app) === done) this.draining.delete(app);
    });
    this.draining.set(app, done);
  }

  /** Takes an app off the router and stops all its instances (apps:destroy, orphans). */
  async retire(app: string): Promise<void> {
    await this.drained(app);
    await this.router.removeRoute(app);
    await this.settings.addresses?.remove(app);
    await this.removeAll(await this.runtime.list(app), this.settings.stopTimeoutSec);
  }

  /** Stops some of the app's instances (ps:stop); the app's next converge replaces them. */
  async stopInstances(app: string, instances: Instance[]): Promise<void> {
    await this.drained(app);
    await this.removeAll(instances.filter((i) => i.app === app), this.settings.stopTimeoutSec);
  }

  /** Stops all of an app's instances but leaves its route: another scheduler serves it now. They drain first. */
  async stopAll(app: string): Promise<void> {
    await this.drained(app);
    const instances = await this.runtime.list(app);
    if (!instances.length) return;
    if (this.settings.drainSec > 0) await sleep(this.settings.drainSec * 1000);
    await this.removeAll(instances, this.settings.stopTimeoutSec);
  }

  /**
   * The app's route to its web instances. Local instances that share one port go behind the app's DNS name:
   * its addresses are swapped (confirmed live in the DNS server) and the route stays as it was. Others (remote
   * hosts, host-port mode, no app DNS) are listed in the route itself.
   */
  private async routeTo(target: Target, web: Instance[]): Promise<AppRoute> {
    const routeVia = this.settings.routeVia ?? 'host-port';
    const book = this.settings.addresses;
    const upstreams = web.map((i) => upstreamOf(i, routeVia));
    const port = upstreams[0]?.port;
    // While a canary runs the stable side is a fixed list too: the split's weighted proxy repeats both sides' instances
    // in one upstream list (src/router/caddy/canary-split.ts), which a name cannot be part of. Every change of the
    // canary or the formation sets the route again. The name is left as it is (removing it before the route changed
    // would fail the requests in between); the canary's end sets it before the route goes back to it.
    if (target.canary) return { app: target.app, hostnames: target.hostnames, upstreams };
    const named = book && routeVia === 'container-ip' && web.length > 0 && web.every((i) => i.privateAddress)
      && upstreams.every((u) => u.port === port);
    if (!named) {
      await book?.remove(target.app);
      return { app: target.app, hostnames: target.hostnames, upstreams };
    }
    // Caddy keeps its last answer for the name up to its refresh: once DNS_SWITCH_MS has passed, every new request
    // goes to the new set, so "routed" means routed and the old instances' drain starts from there.
    if (await book.set(target.app, upstreams.map((u) => u.host))) await sleep(DNS_SWITCH_MS);
    return { app: target.app, hostnames: target.hostnames, upstreams: [], named: { name: book.nameOf(target.app), port: port!, resolver: book.resolver } };
  }

  /** Starts the instances and waits until they pass the health check; if they do not, removes them and throws. */
  private async startHealthy(target: Target, specs: InstanceSpec[], portsInUse: number[], serving: boolean, progress: Progress,
    signal?: AbortSignal): Promise<Instance[]> {
    const started = await this.startAll(specs, portsInUse, progress);
    try {
      await this.checkHealth(target, started, progress, signal);
    } catch (err) {
      if (!signal?.aborted) progress(removingNote(serving));
      await this.removeAll(started, 0);
      throw err;
    } finally {
      // Held by the instances from here on (or by nothing: one in a network holder publishes no port).
      specs.forEach((s) => s.hostPort !== null && this.ports.release(s.hostPort));
    }
    return started;
  }

  /**
   * With a release phase: web instances start and are health-checked while it runs (nothing routes to them yet), the
   * other processes once it succeeded (src/releases/release-phase.ts). If it fails, nothing is routed and its error is
   * the change's.
   */
  private async startDuringReleasePhase(target: Target, phase: Promise<void>, specs: InstanceSpec[], portsInUse: number[],
    serving: boolean, progress: Progress): Promise<Instance[]> {
    const { duringPhase, afterPhase } = splitForReleasePhase(specs);
    const stop = new AbortController();
    const early = settle(this.startHealthy(target, duringPhase, portsInUse, serving, progress, stop.signal));
    const phaseEnd = await settle(phase);
    if (!phaseEnd.ok) stop.abort();
    const earlyEnd = await early;
    const healthy = earlyEnd.ok ? earlyEnd.value : [];
    const next = afterReleasePhase(phaseEnd, earlyEnd);
    if (next === 'phase-failed') {
      if (healthy.length) progress(removingNote(serving));
      await this.removeAll(healthy, 0);
      throw failureOf(phaseEnd);
    }
    if (next === 'instances-failed') throw failureOf(earlyEnd);
    if (next === 'start-again') {
      progress(`Starting the web instance(s) again: they failed while the release phase ran (${firstLine(failureOf(earlyEnd))}).`);
    }
    const inUse = [...portsInUse, ...healthy.map((i) => i.hostPort).filter((p): p is number => p !== null)];
    try {
      return [...healthy, ...await this.startHealthy(target, next === 'start-again' ? specs : afterPhase, inUse, serving, progress)];
    } catch (err) {
      await this.removeAll(healthy, 0);
      throw err;
    }
  }

  private async startAll(specs: InstanceSpec[], portsInUse: number[], progress: Progress): Promise<Instance[]> {
    const started: Instance[] = [];
    try {
      for (const spec of specs) {
        if (spec.containerPort !== null) spec.hostPort = await this.ports.allocate(portsInUse);
      }
      await Promise.all(specs.map(async (spec) => {
        progress(`Starting ${spec.process}.${spec.index} of v${spec.release}.`);
        started.push(await this.runtime.start(spec));
      }));
      return started;
    } catch (err) {
      specs.forEach((s) => s.hostPort !== null && this.ports.release(s.hostPort));
      await this.removeAll(started, 0);
      throw new BerthError(422, 'release_failed', `Could not start the instances: ${(err as Error).message}`);
    }
  }

  private async checkHealth(target: Target, started: Instance[], progress: Progress, signal?: AbortSignal): Promise<void> {
    const { path, timeoutSec } = target.health;
    await Promise.all(started.map(async (inst) => {
      const name = `${inst.process}.${inst.index}`;
      const deadReason = () => this.deadReason(inst);
      try {
        if (inst.hostPort === null) {
          await sleep(1000); // a process without a port only has to stay up
          const dead = await deadReason();
          if (dead) throw new Error(dead);
        } else {
          await waitHealthy({ host: inst.host, port: inst.hostPort, path, timeoutMs: timeoutSec * 1000, deadReason, signal });
          progress(`${name} is healthy (GET ${path} on ${inst.host}:${inst.hostPort}).`);
        }
      } catch (err) {
        if (signal?.aborted) throw err;
        const why = await this.explainFailure(inst, target).catch(() => '');
        throw new BerthError(422, 'release_failed', `${name} failed its health check: ${(err as Error).message}${why}`);
      }
    }));
  }

  /** Read before the instance is removed: whether it listened on PORT, and what it printed. */
  private async explainFailure(inst: Instance, target: Target): Promise<string> {
    const port = inst.hostPort === null ? null : (target.release?.containerPort ?? DEFAULT_CONTAINER_PORT);
    const [listening, lines] = await Promise.all([
      port !== null && this.runtime.listeningPorts ? this.runtime.listeningPorts(inst) : null,
      this.runtime.instanceLogs ? lastLines((signal) => this.runtime.instanceLogs!(inst, { since: null, signal }), FAILURE_LINES) : [],
    ]);
    return describeFailure(port, listening, lines);
  }

  private async deadReason(inst: Instance): Promise<string | null> {
    const now = (await this.runtime.list(inst.app)).find((i) => i.id === inst.id);
    if (!now) return 'the container is gone';
    if (now.restartCount > 0) return `the process crashed and was restarted ${now.restartCount} time(s)`;
    if (!ALIVE.has(now.state)) return `the container is ${now.state}`;
    return null;
  }

  private async removeAll(instances: Instance[], timeoutSec: number): Promise<void> {
    await Promise.all(instances.map((i) => this.runtime.remove(i.id, timeoutSec)));
  }
}

/**
 * Where the router sends a web instance's requests. Instances started before Berth had its network (or in
 * host-port mode) have no private address and keep being reached on their published port until replaced.
 */
export function upstreamOf(inst: Instance, routeVia: 'container-ip' | 'host-port'): { host: string; port: number } {
  if (routeVia === 'container-ip' && inst.privateAddress) return inst.privateAddress;
  return { host: inst.host, port: inst.hostPort! };
}

function instanceKey(i: { release: number; process: string; index: number; generation: number; memoryMB: number | null; cpus: number | null }): string {
  return `${i.release}/${i.process}/${i.index}/${i.generation}/${i.memoryMB ?? ''}/${i.cpus ?? ''}`;
}

/** The release's instances, and a canary's web instances (as many as the release's web). */
function desiredSpecs(target: Target): Map<string, InstanceSpec> {
  const specs = releaseSpecs(target);
  if (!target.canary) return specs;
  const web = target.formation.filter((f) => f.type === 'web');
  for (const [key, spec] of releaseSpecs({ ...target, release: target.canary.release, formation: web })) specs.set(key, spec);
  return specs;
}

function releaseSpecs(target: Target): Map<string, InstanceSpec> {
  const specs = new Map<string, InstanceSpec>();
  const release = target.release;
  if (!release?.image) return specs;
  const port = release.containerPort ?? DEFAULT_CONTAINER_PORT;
  for (const entry of target.formation) {
    for (let index = 1; index <= entry.quantity; index++) {
      const isWeb = entry.type === 'web';
      const spec: InstanceSpec = {
        app: target.app, release: release.version, process: entry.type, index, generation: entry.generation,
        image: release.image, command: entry.command ? shellCommand(entry.command) : null,
        env: {
          ...release.config,
          ...(isWeb ? { PORT: String(port) } : {}),
          DYNO: `${entry.type}.${index}`,
          BERTH_APP: target.app, BERTH_RELEASE: `v${release.version}`, BERTH_PROCESS: entry.type,
        },
        containerPort: isWeb ? port : null, hostPort: null,
        memoryMB: entry.memoryMB, cpus: entry.cpus,
      };
      specs.set(instanceKey(spec), spec);
    }
  }
  return specs;
}

/**
 * A Procfile command runs in a shell; a simple one is exec'd so the app itself, not the shell, receives
 * SIGTERM when the instance is stopped (dash would swallow it and the app would be SIGKILLed).
 */
export function shellCommand(command: string): string[] {
  const compound = /&&|\|\||[;|\n]/.test(command);
  return ['/bin/sh', '-c', compound ? command : `exec ${command}`];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const removingNote = (serving: boolean) => `Removing the new instances; ${serving ? 'the running release keeps serving' : 'nothing was serving before'}.`;

const firstLine = (err: unknown) => ((err as Error).message ?? String(err)).split('\n')[0];

type Settled<T> = ({ ok: true; value: T } | { ok: false; error: unknown }) & Ended;

const failureOf = (ended: Settled<unknown>): unknown => (ended.ok ? null : ended.error);

/** How a promise ended and when, without throwing. */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then((value) => ({ ok: true as const, value, at: Date.now() }), (error: unknown) => ({ ok: false as const, error, at: Date.now() }));
}
