// A git host's webhook delivery: who sent it (GitHub, Gitea, GitLab), whether its signature proves it
// knows the app's webhook secret, and what it says (ping, a push to a branch, something else). The
// signature is the only authentication, so every comparison takes the same time whatever matches. Pure.
import crypto from 'node:crypto';

export type GitHost = 'github' | 'gitea' | 'gitlab';

export type Header = (name: string) => string | undefined;

/** Which host sent the delivery, from its event header; null: none of the three. */
export function senderOf(header: Header): GitHost | null {
  // Gitea also sends GitHub's headers, so it is recognised first.
  if (header('x-gitea-event') !== undefined) return 'gitea';
  if (header('x-gitlab-event') !== undefined || header('x-gitlab-token') !== undefined) return 'gitlab';
  if (header('x-github-event') !== undefined || header('x-hub-signature-256') !== undefined) return 'github';
  return null;
}

export type SignatureCheck = { ok: true; host: GitHost } | { ok: false; reason: 'unsigned webhook' | 'invalid webhook signature' };

/**
 * GitHub: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256 of the raw body. Gitea: X-Gitea-Signature =
 * hex HMAC-SHA256 (or GitHub's header). GitLab: X-Gitlab-Token = the secret itself.
 */
export function checkSignature(header: Header, body: Buffer, secret: string): SignatureCheck {
  const host = senderOf(header);
  const expected = () => crypto.createHmac('sha256', secret).update(body).digest();
  if (host === 'gitlab') {
    const token = header('x-gitlab-token');
    if (token === undefined) return { ok: false, reason: 'unsigned webhook' };
    return sameBytes(digest(token), digest(secret)) ? { ok: true, host } : { ok: false, reason: 'invalid webhook signature' };
  }
  const github = header('x-hub-signature-256');
  const signature = host === 'gitea' ? header('x-gitea-signature') ?? github?.replace(/^sha256=/, '') : github;
  if (signature === undefined || host === null) return { ok: false, reason: 'unsigned webhook' };
  const hex = host === 'github' ? /^sha256=([0-9a-f]{64})$/i.exec(signature)?.[1] : /^([0-9a-f]{64})$/i.exec(signature)?.[1];
  if (!hex) return { ok: false, reason: 'invalid webhook signature' };
  return sameBytes(Buffer.from(hex, 'hex'), expected()) ? { ok: true, host } : { ok: false, reason: 'invalid webhook signature' };
}

const digest = (text: string) => crypto.createHash('sha256').update(text, 'utf8').digest();

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export type Delivery =
  | { kind: 'ping' }
  | { kind: 'push'; branch: string; sha: string }
  | { kind: 'branch deleted'; branch: string }
  | { kind: 'ignored'; what: string };

const SHA = /^[0-9a-f]{40}$/;
const ZERO = /^0{40}$/;

/** What a verified delivery asks for; a push without a usable ref or commit is an error for the sender. */
export function readDelivery(host: GitHost, header: Header, payload: unknown): Delivery | { error: string } {
  const event = (host === 'gitea' ? header('x-gitea-event') : host === 'gitlab' ? header('x-gitlab-event') : header('x-github-event')) ?? '';
  if (event === 'ping') return { kind: 'ping' };
  const isPush = host === 'gitlab' ? event === 'Push Hook' : event === 'push';
  if (!isPush) return { kind: 'ignored', what: `${event || 'an unnamed'} event` };
  const body = (payload && typeof payload === 'object' ? payload : {}) as { ref?: unknown; after?: unknown };
  const ref = typeof body.ref === 'string' ? body.ref : '';
  if (!ref.startsWith('refs/heads/')) {
    return ref.startsWith('refs/') ? { kind: 'ignored', what: `a push to ${ref}` } : { error: 'The push event has no "ref".' };
  }
  const branch = ref.slice('refs/heads/'.length);
  const after = typeof body.after === 'string' ? body.after.toLowerCase() : '';
  if (!SHA.test(after)) return { error: 'The push event has no commit ("after").' };
  if (ZERO.test(after)) return { kind: 'branch deleted', branch };
  return { kind: 'push', branch, sha: after };
}
