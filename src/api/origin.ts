// The address a client used to reach the API. Through Caddy (BERTH_API_HOST_NAME) the connection to
// Berth is plain HTTP on loopback, so the scheme and the client's address come from Caddy's
// X-Forwarded-Proto and X-Forwarded-For, believed only from a loopback peer (Caddy replaces whatever a
// client sent in those headers).
import type { Context } from 'hono';
import { isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/** The client's address: the peer's, or, behind Caddy on loopback, the one Caddy saw (its X-Forwarded-For). */
export function clientAddress(c: Context): string | null {
  let peer: string | null;
  try { peer = getConnInfo(c).remote.address ?? null; } catch { return null; }
  const forwarded = c.req.header('x-forwarded-for')?.split(',').at(-1)?.trim();
  return forwarded && peer && LOOPBACK.test(peer) && isIP(forwarded) ? forwarded : peer;
}

export function requestOrigin(c: Context): string {
  const url = new URL(c.req.url);
  const forwarded = c.req.header('x-forwarded-proto');
  if ((forwarded === 'https' || forwarded === 'http') && fromLoopback(c)) url.protocol = `${forwarded}:`;
  return url.origin;
}

/** True when the API's public address is https (BERTH_PUBLIC_URL, else this request's): cookies then go out Secure. */
export function isHttpsPublic(c: Context, publicUrl: string | null): boolean {
  return (publicUrl ?? requestOrigin(c)).startsWith('https:');
}

function fromLoopback(c: Context): boolean {
  try {
    return LOOPBACK.test(getConnInfo(c).remote.address ?? '');
  } catch {
    return false; // not served by node (tests calling app.request): no peer to believe
  }
}
