// Pure rules for review apps: which pushed refs are review branches, the app name a branch gets, and when a
// review app expires. A branch name is whatever a member pushed, so it is checked like git's own rules and
// never used as is in a name: app names reach Docker, Kubernetes, Caddy hostnames and paths.
import crypto from 'node:crypto';

export const REVIEW_SEPARATOR = '--';
/** The app name length limit (APP_NAME in src/shared/validation.ts). */
const MAX_APP_NAME = 30;
const HASH_CHARS = 6;
const MAX_BRANCH_BYTES = 255;
const BRANCH_PREFIX = 'refs/heads/';

/** The longest parent name that leaves room for `--` and a hash. */
export const MAX_PARENT_NAME = MAX_APP_NAME - REVIEW_SEPARATOR.length - HASH_CHARS;

/**
 * git check-ref-format's rules for a branch (receive-pack applies them only after the pre-receive hook has
 * run, so the hook sees whatever the client sent): no control characters, spaces or ~^:?*[\, no `..`, `@{`,
 * `//`, no component starting with a dot or ending in .lock, not `@`, no leading or trailing slash or dot.
 */
export function isGitBranchName(branch: string): boolean {
  if (branch === '' || branch === '@' || Buffer.byteLength(branch) > MAX_BRANCH_BYTES) return false;
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(branch)) return false;
  if (branch.includes('..') || branch.includes('@{') || branch.includes('//')) return false;
  if (branch.startsWith('/') || branch.endsWith('/') || branch.endsWith('.') || branch.startsWith('-')) return false;
  return branch.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock'));
}

/** The branch a pushed ref names, or null for tags and other refs. */
export function branchOfRef(ref: string): string | null {
  return ref.startsWith(BRANCH_PREFIX) ? ref.slice(BRANCH_PREFIX.length) : null;
}

/** Why `parent` cannot have review apps, or null when it can. */
export function reviewParentProblem(parent: string): string | null {
  if (parent.length > MAX_PARENT_NAME) {
    return `"${parent}" is too long for review apps: their names are ${parent}${REVIEW_SEPARATOR}BRANCH, at most ${MAX_APP_NAME} characters, ` +
      `so the app's name may have at most ${MAX_PARENT_NAME} (rename it with berth apps:rename).`;
  }
  // "xn--…" is how IDNA writes a non-ASCII label: a review app's hostname must not read as one.
  if (`${parent}${REVIEW_SEPARATOR}`.startsWith('xn--')) return `"${parent}" cannot have review apps: their hostnames would start with xn--, IDNA's prefix.`;
  return null;
}

/**
 * `APP--feature-x` for branch feature/x: lowercase, every run of other characters one dash, no dash at either
 * end. A slug that does not fit (or is empty, as for a branch of only non-ASCII letters) is cut and ends in a
 * short hash of the whole branch, so long branches that share a beginning still get different names.
 */
export function reviewAppName(parent: string, branch: string): string {
  const room = MAX_APP_NAME - parent.length - REVIEW_SEPARATOR.length;
  const slug = branch.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (slug !== '' && slug.length <= room) return `${parent}${REVIEW_SEPARATOR}${slug}`;
  const hash = crypto.createHash('sha256').update(branch).digest('hex').slice(0, HASH_CHARS);
  const cut = slug.slice(0, Math.max(0, room - HASH_CHARS - 1)).replace(/-+$/, '');
  return `${parent}${REVIEW_SEPARATOR}${cut ? `${cut}-${hash}` : hash}`;
}

/** When a review app pushed last at `lastPushAt` is destroyed. */
export function reviewExpiresAt(lastPushAt: string, ttlSec: number): Date {
  return new Date(Date.parse(lastPushAt) + ttlSec * 1000);
}
