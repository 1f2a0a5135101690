// Image lookups: local first, pulling only when resolving (never while starting an instance).
import type Docker from 'dockerode';
import type { ImageInfo } from '../types.ts';
import { isNotFound, withDeadline } from './errors.ts';

export interface ImageTimeouts { requestMs: number; pullMs: number }

export async function inspectLocalImage(docker: Docker, ref: string, requestMs: number): Promise<ImageInfo | null> {
  try {
    const info = await withDeadline(`inspecting image ${ref}`, requestMs, () => docker.getImage(ref).inspect());
    const exposed = Object.keys(info.Config?.ExposedPorts ?? {})
      .filter((p) => p.endsWith('/tcp')).map((p) => Number.parseInt(p, 10)).filter(Number.isInteger);
    return { id: info.Id, digest: info.RepoDigests?.[0] ?? null, exposedPorts: exposed, labels: info.Config?.Labels ?? {} };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

export async function requireLocalImage(docker: Docker, ref: string, requestMs: number): Promise<void> {
  if (await inspectLocalImage(docker, ref, requestMs)) return;
  throw new Error(`image ${ref} is not present on the Docker engine; build or pull it before starting instances`);
}

export async function resolveImage(docker: Docker, ref: string, timeouts: ImageTimeouts): Promise<ImageInfo | null> {
  const local = await inspectLocalImage(docker, ref, timeouts.requestMs);
  if (local) return local;
  // An image id cannot be pulled: if it is not here, it is gone.
  if (ref.startsWith('sha256:')) return null;
  const pulled = await pull(docker, ref, timeouts.pullMs);
  return pulled ? inspectLocalImage(docker, ref, timeouts.requestMs) : null;
}

/** true once the pull finished without error; false on any failure or timeout. */
async function pull(docker: Docker, ref: string, timeoutMs: number): Promise<boolean> {
  try {
    await withDeadline(`pulling ${ref}`, timeoutMs, async (signal) => {
      const progress = await docker.pull(ref, { abortSignal: signal });
      await followToCompletion(docker, progress);
    });
    return true;
  } catch {
    return false;
  }
}

/** Errors inside the progress stream (e.g. "manifest unknown") arrive as events; followProgress reports them. */
function followToCompletion(docker: Docker, progress: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(progress, (err) => (err ? reject(err) : resolve()));
  });
}
