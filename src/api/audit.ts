// Records every state-changing API call in the audit trail: who, what (method + route shape), which
// app, from which address, and how it ended. Routes may add a detail (e.g. which config keys).
import type { Context, MiddlewareHandler } from 'hono';
import { clientAddress } from './origin.ts';
import type { ApiEnv } from './auth.ts';
import type { AuditStore } from '../state/audit-store.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** "/apps/web-1/config/FOO" → { app: "web-1", shape: "/apps/:app/config/FOO" }. */
export function routeShape(pathAfterV1: string): { app: string | null; shape: string } {
  const m = /^\/apps\/([^/]+)(\/.*)?$/.exec(pathAfterV1);
  if (!m) return { app: null, shape: pathAfterV1 };
  return { app: decodeOrRaw(m[1]!), shape: `/apps/:app${m[2] ?? ''}` };
}

/** A malformed escape (`%ff`) is recorded as sent, as Hono's own params are, not turned into a 500. */
function decodeOrRaw(segment: string): string {
  try { return decodeURIComponent(segment); } catch { return segment; }
}

export { clientAddress }; // where requests come from, behind Caddy too (src/api/origin.ts)

const MAX_KEYS_NAMED = 50;

/**
 * A config change's key names, never its values: "set A, B; unset C". Read from the body the route
 * already parsed (Hono caches it); a body that is not a JSON object names nothing.
 */
async function configKeysDetail(c: Context): Promise<string | null> {
  let body: unknown;
  try { body = await c.req.json(); } catch { return null; }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return null;
  const keys = Object.entries(body as Record<string, unknown>).map(([key, value]) => ({ key: key.slice(0, 100), unset: value === null }));
  const list = (items: typeof keys) => items.slice(0, MAX_KEYS_NAMED).map((k) => k.key).join(', ') + (items.length > MAX_KEYS_NAMED ? `, … (${items.length} in all)` : '');
  const set = keys.filter((k) => !k.unset);
  const unset = keys.filter((k) => k.unset);
  const parts = [set.length ? `set ${list(set)}` : '', unset.length ? `unset ${list(unset)}` : ''].filter(Boolean);
  return parts.length ? parts.join('; ') : null;
}

export function auditTrail(audit: AuditStore, log: (line: string) => void): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    let status = 500;
    try {
      await next();
      status = c.res.status;
    } catch (err) {
      status = (err as { status?: number }).status ?? 500;
      throw err;
    } finally {
      const user = c.get('user');
      if (user) {
        const { app, shape } = routeShape(c.req.path.replace(/^\/api\/v1/, ''));
        try {
          const detail = c.get('auditDetail') ?? (shape === '/apps/:app/config' ? await configKeysDetail(c) : null);
          audit.record({ actor: user.name, action: `${c.req.method} ${shape}`, app: app ?? c.get('auditApp') ?? null, ip: clientAddress(c), status, detail });
        } catch (err) { log(`could not write the audit trail: ${(err as Error).message}`); }
      }
    }
  };
}
