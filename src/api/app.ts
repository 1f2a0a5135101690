// The HTTP API: /api/v1, bearer auth on everything but health, JSON errors everywhere.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ApiEnv } from './auth.ts';
import { requireToken } from './auth.ts';
import { errorResponse } from './errors.ts';
import type { Services } from './services.ts';
import { BerthError } from '../shared/errors.ts';
import { appsRoutes } from './routes/apps.ts';
import { releasesRoutes } from './routes/releases.ts';
import { configRoutes } from './routes/config.ts';
import { psRoutes } from './routes/ps.ts';
import { domainsRoutes } from './routes/domains.ts';

/** `extra` mounts routes that speak other protocols (git smart HTTP, the git hook's callback). */
export function createApi(s: Services, extra: { git?: Hono; hook?: Hono } = {}): Hono<ApiEnv> {
  const root = new Hono<ApiEnv>();
  root.onError((err, c) => errorResponse(err, c, s.log));
  root.notFound((c) => c.json({ error: 'not_found', message: `No such endpoint: ${c.req.method} ${c.req.path}` }, 404));

  const v1 = new Hono<ApiEnv>();
  v1.get('/health', (c) => c.json({ ok: true, version: s.version }));
  v1.use('*', bodyLimit({
    maxSize: s.maxBodyBytes,
    onError: () => { throw new BerthError(413, 'payload_too_large', `The request body is larger than ${s.maxBodyBytes} bytes.`); },
  }));
  v1.use('*', requireToken(s.auth));
  v1.route('/apps', appsRoutes(s));
  for (const routes of [releasesRoutes, configRoutes, psRoutes, domainsRoutes]) v1.route('/apps', routes(s));
  root.route('/api/v1', v1);
  if (extra.git) root.route('/git', extra.git);
  if (extra.hook) root.route('/git-hook', extra.hook);
  return root;
}
