// The executor of add-ons on the Docker scheduler: a data service is a container with a named volume, on the
// networks of the apps attached to it (at an address Berth picks there, like an instance's), never on a host
// port. Decisions (names, options, URLs) are made by the pure builders; this only talks to the engine.
import type { Duplex } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import type { DockerRuntime } from '../runtime/docker/index.ts';
import { isNotFound } from '../runtime/docker/errors.ts';
import { openExec } from '../runtime/docker/exec.ts';
import { FrameSplitter } from '../runtime/docker/frames.ts';
import type { ExecSession } from '../runtime/types.ts';
import type { ServiceExec, ServiceExecResult, ServiceRuntime, ServiceStatus } from './service-runtime.ts';
import { serviceContainerName, serviceOptions, serviceVolumeName, ADDON_LABEL, type ServiceSpec } from '../runtime/docker/service-options.ts';
import type { Hardening } from '../runtime/docker/container-config.ts';
import { BerthError } from '../shared/errors.ts';

const READY_POLL_MS = 250;
const STDERR_TAIL_BYTES = 4096;

export class DockerServices implements ServiceRuntime {
  readonly #docker: Docker;
  readonly #runtime: DockerRuntime;
  readonly #owner: string;
  readonly #hardening: Hardening | undefined;

  constructor(opts: { docker: Docker; runtime: DockerRuntime; owner: string; hardening?: Hardening }) {
    this.#docker = opts.docker;
    this.#runtime = opts.runtime;
    this.#owner = opts.owner;
    this.#hardening = opts.hardening;
  }

  /** Creates the volume and the container on the app's network and starts it; returns its address there. */
  async start(spec: ServiceSpec): Promise<string> {
    try {
      await this.#docker.getImage(spec.image).inspect();
    } catch (err) {
      if (!isNotFound(err)) throw err;
      throw new BerthError(503, 'image_missing', `The image ${spec.image} is not on this server: run scripts/base-images.sh (it builds the add-on images offline).`);
    }
    await this.#docker.createVolume({ Name: serviceVolumeName(this.#owner, spec.name), Labels: { 'berth.owner': this.#owner, [ADDON_LABEL.addon]: spec.name } });
    const joined = this.#runtime.joinAppNetwork(spec.app, async (placement) => {
      const container = await this.#docker.createContainer(serviceOptions(spec, this.#owner, placement, this.#hardening));
      await container.start();
      return placement.ip;
    });
    if (!joined) throw new BerthError(503, 'no_app_networks', 'Add-ons need apps on networks of their own (BERTH_ROUTE_VIA=container-ip).');
    return joined;
  }

  /** Polls the image's health check (berth-ready) until it passes: the service accepts connections. */
  async waitReady(name: string, timeoutMs: number): Promise<void> {
    const container = this.#docker.getContainer(serviceContainerName(name));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await container.inspect();
      if (!info.State.Running) throw new BerthError(500, 'addon_failed', `The service ${name} stopped while starting (exit code ${info.State.ExitCode}); see docker logs ${serviceContainerName(name)}.`);
      if (await this.#execReady(container)) return;
      if (Date.now() > deadline) throw new BerthError(504, 'addon_timeout', `The service ${name} did not accept connections within ${Math.round(timeoutMs / 1000)} s.`);
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }

  /** Joins the service to another app's network (addons:attach); returns its address there. */
  async connect(name: string, app: string): Promise<string> {
    const joined = this.#runtime.joinAppNetwork(app, async (placement) => {
      await this.#docker.getNetwork(placement.network).connect({
        Container: serviceContainerName(name), EndpointConfig: { IPAMConfig: { IPv4Address: placement.ip } },
      });
      return placement.ip;
    });
    if (!joined) throw new BerthError(503, 'no_app_networks', 'Add-ons need apps on networks of their own (BERTH_ROUTE_VIA=container-ip).');
    return joined;
  }

  /** Leaves the app's network (addons:detach); the network goes if nothing else of the app is on it. */
  async disconnect(name: string, app: string): Promise<void> {
    const network = this.#runtime.appNetworkName(app);
    if (!network) return;
    await this.#docker.getNetwork(network).disconnect({ Container: serviceContainerName(name), Force: true })
      .catch((err: unknown) => { if (!isNotFound(err) && !/is not connected/i.test((err as Error).message)) throw err; });
    await this.#runtime.releaseAppNetwork(app);
  }

  /** The container and its volume (the data) go; so do the attached apps' networks if nothing else holds them. */
  async remove(name: string, apps: string[]): Promise<void> {
    await this.#docker.getContainer(serviceContainerName(name)).remove({ force: true, v: false })
      .catch((err: unknown) => { if (!isNotFound(err)) throw err; });
    await this.#docker.getVolume(serviceVolumeName(this.#owner, name)).remove()
      .catch((err: unknown) => { if (!isNotFound(err)) throw err; });
    for (const app of apps) await this.#runtime.releaseAppNetwork(app);
  }

  async status(name: string): Promise<ServiceStatus> {
    try {
      const info = await this.#docker.getContainer(serviceContainerName(name)).inspect();
      if (!info.State.Running) return 'stopped';
      const health = info.State.Health?.Status;
      return health === 'healthy' ? 'up' : health === 'unhealthy' ? 'unhealthy' : 'starting';
    } catch (err) {
      if (isNotFound(err)) return 'missing';
      throw err;
    }
  }

  /** An interactive client with a TTY in the service's container (addons:connect). */
  openClient(name: string, command: string[], size: { cols: number; rows: number }): Promise<ExecSession> {
    return openExec(this.#docker, this.#owner, serviceContainerName(name), { command, ...size });
  }

  /**
   * `docker exec -i` without a TTY: stdout and stderr come multiplexed and are split here, stdout's pieces written
   * straight into run.stdout (views of the engine's chunks: no copy, no stream in between); stdin is half-closed
   * at its end. While run.stdout is full the engine's stream is paused, so a dump larger than memory moves at its
   * reader's pace instead of piling up in the server; a reader that fails ends the command and the exec with it.
   */
  async exec(name: string, run: ServiceExec): Promise<ServiceExecResult> {
    const container = this.#docker.getContainer(serviceContainerName(name));
    const exec = await container.exec({
      Cmd: run.command, Env: Object.entries(run.env ?? {}).map(([k, v]) => `${k}=${v}`),
      AttachStdin: Boolean(run.stdin), AttachStdout: true, AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: Boolean(run.stdin) }) as unknown as Duplex;
    const out = run.stdout ?? null;
    let stderrTail = '';
    const frames = new FrameSplitter((kind, piece) => {
      if (kind === 'stderr') stderrTail = (stderrTail + piece.toString('utf8')).slice(-STDERR_TAIL_BYTES);
      else if (out && !out.write(piece)) stream.pause();
    });
    const resume = () => stream.resume();
    let failed: (err: Error) => void = () => {};
    const readerFailed = (err: Error) => failed(err);
    out?.on('drain', resume);
    out?.once('error', readerFailed);
    try {
      await new Promise<void>((resolve, reject) => {
        failed = (err) => { reject(err); stream.destroy(); };
        stream.on('data', (chunk: Buffer) => {
          try { frames.push(chunk); } catch (err) { stream.destroy(err as Error); }
        });
        stream.once('end', resolve);
        stream.once('close', resolve);
        stream.once('error', reject);
        if (run.stdin) {
          // The engine closes the command's stdin when the hijacked connection is half-closed.
          pipeline(run.stdin, stream, { end: false }).then(() => (stream as { end(): void }).end(), (err: unknown) => stream.destroy(err as Error));
        }
      });
    } finally {
      out?.off('drain', resume);
      out?.off('error', readerFailed);
    }
    // Its writable side: what was written has been taken (a reader still has the rest to read).
    if (out) await finished(out.end(), { readable: false });
    const { ExitCode } = await exec.inspect();
    return { exitCode: ExitCode ?? -1, stderrTail };
  }

  async #execReady(container: Docker.Container): Promise<boolean> {
    const exec = await container.exec({ Cmd: ['/usr/local/bin/berth-ready'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    stream.resume();
    await new Promise<void>((resolve) => { stream.once('end', resolve); stream.once('close', resolve); stream.once('error', () => resolve()); });
    return (await exec.inspect()).ExitCode === 0;
  }
}
