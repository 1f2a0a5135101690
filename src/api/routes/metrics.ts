// /apps/:app/metrics (JSON series) and the server-wide Prometheus endpoint GET /metrics.
import crypto from 'node:crypto';
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { BerthError } from '../../shared/errors.ts';
import { requireDurationMs } from '../../shared/duration.ts';
import { chooseStep, queryMetrics } from '../../metrics/query.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'apps' | 'auth' | 'metrics' | 'metricsToken'>;

export function metricsRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.get('/:app/metrics', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const sinceSec = Math.round(requireDurationMs('since', c.req.query('since') ?? '1h') / 1000);
    const stepText = c.req.query('step');
    const step = chooseStep(sinceSec, stepText === undefined ? null : Math.round(requireDurationMs('step', stepText) / 1000));
    return c.json(queryMetrics(s.metrics, app.name, sinceSec, step));
  });
  return api;
}

/**
 * GET /metrics for Prometheus: an admin's API token, or BERTH_METRICS_TOKEN (a scrape-only secret that
 * opens nothing else), as a bearer token.
 */
export function prometheusRoute(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.get('/', (c) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (!bearer) throw new BerthError(401, 'unauthorized', 'Missing token: send "Authorization: Bearer TOKEN" (an admin token or BERTH_METRICS_TOKEN).');
    if (!(s.metricsToken && sameSecret(bearer, s.metricsToken))) {
      const user = s.auth.userForToken(bearer);
      if (!user) throw new BerthError(401, 'unauthorized', 'Invalid token.');
      if (user.role !== 'admin') throw new BerthError(403, 'forbidden', 'Only admins (or BERTH_METRICS_TOKEN) can read /metrics.');
    }
    return c.body(s.metrics.totals.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  return api;
}

function sameSecret(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}
