// /admin (admins): installation-wide operations. rotate-key re-seals every stored config value
// under a new key in one transaction (src/state/config-secrets.ts).
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { requireAdmin } from '../auth.ts';
import type { Services } from '../services.ts';
import { BerthError } from '../../shared/errors.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'secrets'>;

export function adminRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.post('/rotate-key', (c) => {
    requireAdmin(c);
    if (!s.secrets) throw new BerthError(501, 'not_available', 'This server has no secrets key to rotate.');
    const rotation = s.secrets.rotate();
    c.set('auditDetail', `secrets key ${rotation.previousKeyId} → ${rotation.keyId} (${rotation.values} values)`);
    return c.json(rotation);
  });
  return api;
}
