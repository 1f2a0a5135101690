// The few calls of the registry HTTP API v2 (CNCF distribution) that pruning needs. Plain HTTP: Berth's
// registry listens on loopback or a private network, with Berth's credential once beyond loopback.
import { basicAuthorization, type RegistryCredential } from './credentials.ts';

/** Whatever kind of manifest a tag points at, the registry must answer with its own digest. */
const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

const REQUEST_TIMEOUT_MS = 30_000;
const STREAM_TIMEOUT_MS = 30 * 60_000;
const BLOB_DIGEST = /^sha256:[0-9a-f]{64}$/;
/** Bounds the pages followed, should a registry keep answering with a next link. */
const MAX_TAG_PAGES = 100;

export class RegistryApi {
  readonly #base: string;
  readonly #auth: Record<string, string>;

  constructor(registry: string, credential: RegistryCredential | null = null) {
    this.#base = `http://${registry}`;
    this.#auth = credential ? { authorization: basicAuthorization(credential) } : {};
  }

  /** All tags of a repository; none when the repository does not exist (yet). */
  async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let next: string | null = `/v2/${repository}/tags/list`;
    for (let page = 0; next !== null && page < MAX_TAG_PAGES; page++) {
      const res = await this.#request('GET', next);
      if (res.status === 404) return discard(res, []);
      await expectOk(res, `list tags of ${repository}`);
      const body = (await res.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      next = nextPage(res.headers.get('link'));
    }
    return tags;
  }

  /** The digest of the manifest a tag points at, or null when the tag is gone. */
  async manifestDigest(repository: string, tag: string): Promise<string | null> {
    const res = await this.#request('HEAD', `/v2/${repository}/manifests/${encodeURIComponent(tag)}`, { accept: MANIFEST_TYPES });
    if (res.status === 404) return discard(res, null);
    await expectOk(res, `look up ${repository}:${tag}`);
    const digest = res.headers.get('docker-content-digest');
    if (!digest) throw new Error(`registry gave no digest for ${repository}:${tag}`);
    return digest;
  }

  /** Deletes a manifest and, with it, every tag pointing at it. Needs `storage.delete.enabled`. */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    const res = await this.#request('DELETE', `/v2/${repository}/manifests/${digest}`);
    await discard(res, undefined);
    if (res.status === 404) return;
    if (res.status === 405) throw new Error('the registry refuses deletes: set storage.delete.enabled in its config');
    if (!res.ok) throw new Error(`registry could not delete ${repository}@${digest}: HTTP ${res.status}`);
  }

  /**
   * Copies one tag to another repository of this registry (apps:rename): the layers and config are mounted
   * across (no bytes move), then the same manifest is put under the new name, so its digest stays.
   */
  async copyTag(from: string, to: string, tag: string): Promise<void> {
    const { mediaType: type, body, blobs } = await this.imageManifest(from, tag);
    for (const digest of blobs) {
      const mount = await this.#request('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`);
      await discard(mount, undefined);
      if (mount.status !== 201) throw new Error(`registry could not mount ${digest.slice(0, 19)} into ${to}: HTTP ${mount.status}`);
    }
    const put = await this.#request('PUT', `/v2/${to}/manifests/${encodeURIComponent(tag)}`, { 'content-type': type }, body);
    await expectOk(put, `store ${to}:${tag}`);
    await discard(put, undefined);
  }

  /** A tag's manifest as stored (bytes and media type) and the blobs it names, config first; refused for a manifest list. */
  async imageManifest(repository: string, tag: string): Promise<{ mediaType: string; body: Uint8Array<ArrayBuffer>; blobs: string[] }> {
    const res = await this.#request('GET', `/v2/${repository}/manifests/${encodeURIComponent(tag)}`, { accept: MANIFEST_TYPES });
    await expectOk(res, `read ${repository}:${tag}`);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const body = new Uint8Array(await res.arrayBuffer());
    const manifest = JSON.parse(new TextDecoder().decode(body)) as { config?: { digest?: string }; layers?: Array<{ digest?: string }>; manifests?: unknown };
    if (manifest.manifests !== undefined || !manifest.config?.digest) throw new Error(`${repository}:${tag} is a manifest list, which Berth does not build`);
    const blobs = [manifest.config.digest, ...(manifest.layers ?? []).map((layer) => layer.digest)];
    for (const digest of blobs) {
      if (typeof digest !== 'string' || !BLOB_DIGEST.test(digest)) throw new Error(`${repository}:${tag} names an invalid blob digest`);
    }
    return { mediaType, body, blobs: blobs as string[] };
  }

  /** A blob's bytes as a stream, with its size (backups read layers this way, never whole into memory). */
  async blob(repository: string, digest: string): Promise<{ size: number; body: ReadableStream<Uint8Array> }> {
    const res = await this.#request('GET', `/v2/${repository}/blobs/${digest}`, {}, undefined, true);
    await expectOk(res, `read blob ${digest.slice(0, 19)} of ${repository}`);
    const size = Number(res.headers.get('content-length'));
    if (!res.body || !Number.isSafeInteger(size)) throw new Error(`registry sent blob ${digest.slice(0, 19)} of ${repository} without a length`);
    return { size, body: res.body };
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.#request('HEAD', `/v2/${repository}/blobs/${digest}`);
    await discard(res, undefined);
    if (res.status === 404) return false;
    await expectOk(res, `look up blob ${digest.slice(0, 19)} of ${repository}`);
    return true;
  }

  /** Uploads one blob in a single request (the registry checks it against its digest). */
  async uploadBlob(repository: string, digest: string, size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    const start = await this.#request('POST', `/v2/${repository}/blobs/uploads/`);
    await discard(start, undefined);
    const location = start.headers.get('location');
    if (start.status !== 202 || !location) throw new Error(`registry would not start an upload to ${repository}: HTTP ${start.status}`);
    const target = new URL(location, this.#base);
    if (target.origin !== new URL(this.#base).origin) throw new Error(`registry sent an upload location on another host (${target.origin})`);
    target.searchParams.set('digest', digest);
    const put = await this.#request('PUT', `${target.pathname}${target.search}`, { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body);
    await expectOk(put, `store blob ${digest.slice(0, 19)} in ${repository}`);
    await discard(put, undefined);
  }

  async putManifest(repository: string, tag: string, mediaType: string, body: Uint8Array<ArrayBuffer>): Promise<void> {
    const put = await this.#request('PUT', `/v2/${repository}/manifests/${encodeURIComponent(tag)}`, { 'content-type': mediaType }, body);
    await expectOk(put, `store ${repository}:${tag}`);
    await discard(put, undefined);
  }

  async #request(method: string, pathAndQuery: string, headers: Record<string, string> = {},
    body?: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>, long = false): Promise<Response> {
    // A streamed body (a layer, either way) may take longer than one request's usual deadline.
    const streamed = body instanceof ReadableStream;
    try {
      return await fetch(`${this.#base}${pathAndQuery}`, {
        method, headers: { ...headers, ...this.#auth }, body, signal: AbortSignal.timeout(streamed || long ? STREAM_TIMEOUT_MS : REQUEST_TIMEOUT_MS),
        ...(streamed ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      // fetch only says "fetch failed"; the cause (ECONNREFUSED, timeout) is what helps.
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new Error(`registry at ${this.#base} did not answer ${method} ${pathAndQuery}: ${cause}`);
    }
  }
}

/** Frees the connection of a response whose body is not needed. */
async function discard<T>(res: Response, value: T): Promise<T> {
  await res.body?.cancel().catch(() => {});
  return value;
}

async function expectOk(res: Response, what: string): Promise<void> {
  if (res.ok) return;
  const body = await res.text().catch(() => '');
  throw new Error(`registry could not ${what}: HTTP ${res.status} ${body.trim().slice(0, 300)}`);
}

/** RFC 5988 link header, as the registry paginates: `</v2/app/tags/list?last=v9&n=100>; rel="next"`. */
function nextPage(link: string | null): string | null {
  const match = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
  if (!match) return null;
  const target = new URL(match[1]!, 'http://registry');
  return `${target.pathname}${target.search}`;
}
