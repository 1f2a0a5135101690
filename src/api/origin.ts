// The address a client used to reach the API. Through Caddy (BERTH_API_HOST_NAME) the connection to
// Berth is plain HTTP on loopback, so the scheme comes from Caddy's X-Forwarded-Proto, believed only
// from a loopback peer (Caddy replaces whatever a client sent in that header).
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

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
