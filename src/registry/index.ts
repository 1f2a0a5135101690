// Berth's image registry, from two sides: pushing built images through the Docker engine, and
// pruning old ones through the registry's HTTP API (v2), where the repository name is the app name.
import Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { engineMessages, messageError, outputLines, type EngineMessage } from '../builder/engine-stream.ts';
import { RegistryApi } from './api.ts';
import { engineAuth, type RegistryCredential } from './credentials.ts';

export interface RegistryClientOptions {
  socketPath: string;
  /** host:port of the registry, e.g. 127.0.0.1:5000 */
  registry: string;
  /** Deadline of one push; default 10 minutes. */
  pushTimeoutMs?: number;
  /** Berth's credential, once the registry requires one (src/registry/credentials.ts). */
  credential?: RegistryCredential | null;
}

const DEFAULT_PUSH_TIMEOUT_MS = 10 * 60_000;

export class RegistryClient {
  readonly #docker: Docker;
  readonly #registry: string;
  readonly #api: RegistryApi;
  readonly #pushTimeoutMs: number;
  readonly #auth: Record<string, string>;

  constructor(options: RegistryClientOptions) {
    this.#docker = new Docker({ socketPath: options.socketPath });
    this.#registry = options.registry;
    this.#api = new RegistryApi(options.registry, options.credential ?? null);
    this.#pushTimeoutMs = options.pushTimeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS;
    this.#auth = engineAuth(options.credential ?? null, options.registry);
  }

  /** Pushes one tag (`<registry>/<app>:<tag>`); resolves with the manifest digest the registry stored. */
  async push(tag: string, progress: (line: string) => void): Promise<{ digest: string }> {
    const { repository, tag: tagName } = splitReference(tag);
    const signal = AbortSignal.timeout(this.#pushTimeoutMs);
    try {
      // The engine's push endpoint wants an auth header even for a registry without auth (then empty).
      const output = await this.#docker.getImage(repository).push({ tag: tagName, authconfig: this.#auth, abortSignal: signal });
      return { digest: await followPush(output as Readable, tagName, progress) };
    } catch (err) {
      if (signal.aborted) throw new Error(`push of ${tag} timed out after ${Math.round(this.#pushTimeoutMs / 1000)} s`);
      throw err;
    }
  }

  /** Pulls one reference of this registry onto the local engine (a restore: instances start from local images only). */
  async pull(reference: string): Promise<void> {
    const signal = AbortSignal.timeout(this.#pushTimeoutMs);
    const output = await this.#docker.pull(reference, { authconfig: this.#auth, abortSignal: signal });
    for await (const message of engineMessages(output as Readable)) {
      const failure = messageError(message);
      if (failure) throw new Error(`pull of ${reference} failed: ${failure}`);
    }
  }

  /**
   * Deletes the app's images whose tags are not in keepTags, from the registry and from the local
   * engine. A manifest that a kept tag also points at (same image pushed twice) is left alone: the
   * registry can only delete manifests, which would take the kept tag with it. Returns the tags removed.
   */
  async prune(app: string, keepTags: string[]): Promise<string[]> {
    const tags = await this.#api.listTags(app);
    const keep = new Set(keepTags);
    if (tags.every((tag) => keep.has(tag))) return [];
    const digests = new Map<string, string | null>();
    for (const tag of tags) digests.set(tag, await this.#api.manifestDigest(app, tag));
    const keptDigests = new Set(tags.filter((tag) => keep.has(tag)).map((tag) => digests.get(tag)));
    const deleted = tags.filter((tag) => {
      const digest = digests.get(tag);
      return !keep.has(tag) && digest != null && !keptDigests.has(digest);
    });
    // Tags that share a manifest go together: delete each digest once.
    for (const digest of new Set(deleted.map((tag) => digests.get(tag)!))) await this.#api.deleteManifest(app, digest);
    for (const tag of deleted) await this.#removeLocalTag(`${this.#registry}/${app}:${tag}`);
    return deleted;
  }

  /**
   * Deletes every image of a destroyed app: its manifests in the registry (pruning with nothing kept) and any
   * local tag under its name, so nobody (a later app of the same name included) can pull or run them.
   */
  async removeApp(app: string): Promise<string[]> {
    const deleted = await this.prune(app, []);
    const local = await this.#docker.listImages({ filters: { reference: [`${this.#registry}/${app}`] } });
    for (const tag of local.flatMap((image) => image.RepoTags ?? [])) {
      // Forced: a container still running the image keeps it by id, but the name is the app's and goes.
      if (splitReference(tag).repository === `${this.#registry}/${app}`) await this.#removeLocalTag(tag, true);
    }
    return deleted;
  }

  /**
   * apps:rename: every image of the app is copied to the new name's repository (and its local tags), then
   * the old name's are removed as for a destroyed app: a later app of the old name must start with none.
   */
  async renameApp(from: string, to: string): Promise<string[]> {
    const tags = await this.#api.listTags(from);
    for (const tag of tags) await this.#api.copyTag(from, to, tag);
    const local = await this.#docker.listImages({ filters: { reference: [`${this.#registry}/${from}`] } });
    for (const reference of local.flatMap((image) => image.RepoTags ?? [])) {
      const { repository, tag } = splitReference(reference);
      if (repository === `${this.#registry}/${from}`) await this.#docker.getImage(reference).tag({ repo: `${this.#registry}/${to}`, tag });
    }
    await this.removeApp(from);
    return tags;
  }

  /** Untags the local copy; an image still used by a container stays (the engine says 409). */
  async #removeLocalTag(reference: string, force = false): Promise<void> {
    try {
      await this.#docker.getImage(reference).remove({ force });
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 404 && status !== 409) throw err;
    }
  }
}

/** "127.0.0.1:5000/app:v7" → repository "127.0.0.1:5000/app", tag "v7" (the registry's port is no tag). */
export function splitReference(reference: string): { repository: string; tag: string } {
  const colon = reference.lastIndexOf(':');
  if (colon === -1 || reference.indexOf('/', colon) !== -1) throw new Error(`image reference ${reference} has no tag`);
  return { repository: reference.slice(0, colon), tag: reference.slice(colon + 1) };
}

async function followPush(output: Readable, tag: string, progress: (line: string) => void): Promise<string> {
  let digest: string | null = null;
  for await (const message of engineMessages(output)) {
    const failure = messageError(message);
    if (failure) throw new Error(`push failed: ${failure}`);
    digest = digestOf(message) ?? digest;
    const line = pushLine(message);
    if (line !== null) progress(line);
  }
  if (!digest) throw new Error(`push of ${tag} finished without a digest`);
  return digest;
}

/** From the aux message `{Tag, Digest, Size}`, or the status line "<tag>: digest: sha256:… size: N". */
function digestOf(message: EngineMessage): string | null {
  const aux = message.aux?.Digest;
  if (typeof aux === 'string' && aux.startsWith('sha256:')) return aux;
  return /digest: (sha256:[0-9a-f]{64})/.exec(message.status ?? '')?.[1] ?? null;
}

/** One line per layer state change; the byte-progress bars are left out. */
function pushLine(message: EngineMessage): string | null {
  if (message.progressDetail?.current !== undefined || !message.status) return null;
  if (message.status === 'Preparing' || message.status === 'Waiting') return null;
  const text = outputLines(message.status).join(' ');
  return message.id ? `${message.id}: ${text}` : text;
}
