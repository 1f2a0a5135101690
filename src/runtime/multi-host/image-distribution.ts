// Getting a release's image onto a remote host: instances are started by image id, which cannot be
// pulled, so the id is traced back to the tag Berth pushed to its registry (REGISTRY/app:vN) and the host
// pulls that tag from the registry's advertised address. The id is checked afterwards: same bytes.
import type Docker from 'dockerode';
import { isNotFound, withDeadline } from '../docker/errors.ts';

export interface RegistryAddresses {
  registry: string;           // as this server pushes to it
  registryAdvertise: string;  // as hosts pull from it
  pullTimeoutMs: number;
  /** The engine's X-Registry-Auth for pulls from it: Berth's credential once the registry requires one. */
  registryAuth?: Record<string, string>;
}

const INSPECT_TIMEOUT_MS = 15_000;

async function hasImage(docker: Docker, image: string): Promise<boolean> {
  try {
    await withDeadline(`inspecting image ${image}`, INSPECT_TIMEOUT_MS, () => docker.getImage(image).inspect());
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** The registry tag a host can pull the local image by, or null when it was never pushed there. */
export async function pullableRef(local: Docker, image: string, addresses: RegistryAddresses): Promise<string | null> {
  let tags: string[] = [];
  try {
    const info = await withDeadline(`inspecting image ${image}`, INSPECT_TIMEOUT_MS, () => local.getImage(image).inspect());
    tags = info.RepoTags ?? [];
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  const prefix = `${addresses.registry}/`;
  const pushed = tags.filter((t) => t.startsWith(prefix)).sort();
  return pushed.length ? `${addresses.registryAdvertise}/${pushed[pushed.length - 1].slice(prefix.length)}` : null;
}

export async function ensureImageOnHost(host: { name: string; docker: Docker }, image: string, opts: RegistryAddresses & { local: { docker: Docker } }): Promise<void> {
  if (await hasImage(host.docker, image)) return;
  const ref = await pullableRef(opts.local.docker, image, opts);
  if (!ref) throw new Error(`image ${image} is not in Berth's registry (${opts.registry}), so host ${host.name} cannot get it`);
  await withDeadline(`pulling ${ref} on ${host.name}`, opts.pullTimeoutMs, async (abortSignal) => {
    const stream = await host.docker.pull(ref, { abortSignal, ...(opts.registryAuth ? { authconfig: opts.registryAuth } : {}) });
    await new Promise<void>((resolve, reject) => host.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  });
  if (!(await hasImage(host.docker, image))) {
    throw new Error(`host ${host.name} pulled ${ref}, but it is not image ${image} (the tag was moved in the registry)`);
  }
}
