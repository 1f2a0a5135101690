// Which images a user may run, and which a build may start from. Berth's registry holds every app's
// images (REGISTRY/APP:vN) and the engine keeps them locally: a member who could run or build FROM another
// app's image would read that team's code and build args. Pure: the callers look up the image's labels.
import picomatch from 'picomatch';

export interface ImagePolicySettings {
  /** Berth's registry (host:port) and any other name the engine reaches it by (BERTH_REGISTRY_ADVERTISE). */
  registries: string[];
  /** Globs (picomatch) of references members may deploy besides their own app's registry images (BERTH_IMAGE_ALLOW). */
  allow: string[];
}

export interface ImageRef {
  /** host[:port], or null for Docker Hub names like `node:24`. */
  registry: string | null;
  repository: string;
  tag: string | null;
  digest: string | null;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** The label Berth's builder puts on every image it builds. */
export const APP_LABEL = 'berth.app';

const OK: Verdict = { ok: true };
const refuse = (reason: string): Verdict => ({ ok: false, reason });

/** Docker's own limit on a name is 255; a digest adds at most ~135. */
const MAX_REFERENCE = 512;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:localhost|\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::\d+)?$/i;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-f]{32,}$/i;

/** Docker's reference grammar (distribution/reference), as far as Berth needs it; null when it is none. */
export function parseImageRef(ref: string): ImageRef | null {
  if (ref.length > MAX_REFERENCE) return null;
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return null;
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return null;
  }
  const parts = rest.split('/');
  let registry: string | null = null;
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost' || parts[0].startsWith('['))) {
    registry = parts.shift()!;
    if (!DOMAIN.test(registry)) return null;
  }
  if (parts.length === 0 || !parts.every((part) => COMPONENT.test(part))) return null;
  return { registry, repository: parts.join('/'), tag, digest };
}

/**
 * An image id (`sha256:…`, or bare hex the engine would take as an id prefix) names no app: it could be any
 * app's image, or a layer of its build that holds its source.
 */
export function isImageId(ref: string): boolean {
  return /^sha256:/i.test(ref) || /^[0-9a-f]+$/i.test(ref);
}

/** A reference into Berth's registry: its configured names, or any loopback address (the same registry, another name). */
export function isBerthRegistry(registry: string | null, settings: ImagePolicySettings): boolean {
  if (registry === null) return false;
  const host = registry.toLowerCase();
  if (settings.registries.some((r) => r.toLowerCase() === host)) return true;
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '0.0.0.0'
    || hostname === '[::1]' || hostname === '[::]' || /^\[::ffff:127\./.test(hostname);
}

/**
 * May a member deploy `ref` to `app`? Only the app's own registry images (REGISTRY/APP:TAG or @digest) and
 * references an admin allowed. Admins are not asked: they may deploy anything.
 */
export function deployVerdict(ref: string, app: string, settings: ImagePolicySettings): Verdict {
  if (isImageId(ref)) return refuse(`"${ref}" is an image id, which could be any app's image: deploy a reference such as ${ownReference(app, settings)}`);
  const parsed = parseImageRef(ref);
  if (!parsed) return refuse(`"${ref}" is not an image reference`);
  if (isBerthRegistry(parsed.registry, settings)) {
    return parsed.repository === app ? OK : refuse(`${ref} is not ${app}'s image: members deploy only their own app's images from Berth's registry`);
  }
  if (settings.allow.some((glob) => picomatch.isMatch(ref, glob))) return OK;
  return refuse(`members may deploy ${ownReference(app, settings)} images and those an admin allowed (BERTH_IMAGE_ALLOW)`
    + (settings.allow.length ? `: ${settings.allow.join(', ')}` : '; none are allowed here'));
}

/** May a build of `app` start from (FROM) or copy out of (COPY --from) `ref`? Public and stack images yes; other apps' no. */
export function buildBaseVerdict(ref: string, app: string, settings: ImagePolicySettings): Verdict {
  if (isImageId(ref)) return refuse(`"${ref}" is an image id, which could be any app's image or build layer: name an image such as node:24`);
  const parsed = parseImageRef(ref);
  if (!parsed) return refuse(`"${ref}" is not an image reference`);
  if (isBerthRegistry(parsed.registry, settings) && parsed.repository !== app) {
    return refuse(`${ref} is another app's image in Berth's registry`);
  }
  return OK;
}

/** A local image that Berth built for another app (its berth.app label) is that app's, whatever it is called now. */
export function labelVerdict(ref: string, labels: Record<string, string> | null | undefined, app: string): Verdict {
  const owner = labels?.[APP_LABEL];
  return owner === undefined || owner === app ? OK : refuse(`${ref} is an image Berth built for another app`);
}

function ownReference(app: string, settings: ImagePolicySettings): string {
  return `${settings.registries[0] ?? 'REGISTRY'}/${app}:TAG`;
}
