// Records every state-changing API call in the audit trail: who, what (method + route shape), which
// app, from which address, and how it ended. Routes may add a detail (e.g. which config keys).
import type { MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { ApiEnv } from './auth.ts';
import type { AuditStore } from '../state/audit-store.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** "/apps/web-1/config/FOO" → { app: "web-1", shape: "/apps/:app/config/FOO" }. */
export function routeShape(pathAfterV1: string): { app: string | null; shape: string } {
  const m = /^\/apps\/([^/]+)(\/.*)?$/.exec(pathAfterV1);
  if (!m) return { app: null, shape: pathAfterV1 };
  return { app: decodeURIComponent(m[1]), shape: `/apps/:app${m[2] ?? ''}` };
}

export function clientAddress(c: Parameters<MiddlewareHandler>[0]): string | null {
  try { return getConnInfo(c).remote.address ?? null; } catch { return null; }
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
          audit.record({ actor: user.name, action: `${c.req.method} ${shape}`, app: app ?? c.get('auditApp') ?? null, ip: clientAddress(c), status, detail: c.get('auditDetail') ?? null });
        } catch (err) { log(`could not write the audit trail: ${(err as Error).message}`); }
      }
    }
  };
}
