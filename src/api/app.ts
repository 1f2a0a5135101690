// The HTTP API: /api/v1, bearer auth on everything but health, JSON errors everywhere.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ApiEnv } from './auth.ts';
import { requireUser } from './auth.ts';
import { requireAppAccess } from './access.ts';
import { auditTrail } from './audit.ts';
import { errorResponse } from './errors.ts';
import type { Services } from './services.ts';
import { BerthError } from '../shared/errors.ts';
import { appsRoutes } from './routes/apps.ts';
import { releasesRoutes } from './routes/releases.ts';
import { configRoutes } from './routes/config.ts';
import { psRoutes } from './routes/ps.ts';
import { domainsRoutes } from './routes/domains.ts';
import { sessionRoutes } from './routes/session.ts';
import { usersRoutes } from './routes/users.ts';
import { accessRoutes } from './routes/access.ts';
import { auditRoutes } from './routes/audit.ts';
import { adminRoutes } from './routes/admin.ts';
import { RESTORE_PATH, backupRoutes } from './routes/backup.ts';
import { RESTORE_UPLOAD_PATH } from './routes/backups.ts';
import { tokensRoutes } from './routes/tokens.ts';
import { hostsRoutes } from './routes/hosts.ts';
import { metricsRoutes, prometheusRoute } from './routes/metrics.ts';
import { alertsRoutes } from './routes/alerts.ts';
import { stoppingRoutes } from './routes/stopping.ts';
import { runRoutes } from './routes/run.ts';
import { detachedRunRoutes } from './routes/run-detached.ts';
import { reviewsRoutes } from './routes/reviews.ts';

/** `extra` mounts routes that speak other protocols (git smart HTTP; the git hook's callback has its own socket). */
/** `live`: the web console's live routes under /api/v1 (src/web/live-routes.ts); `ui`: the console's pages at /. */
/** `apps`: more routes under /apps, wired by their own subsystem (apps:connect); `hooks`: git hosts' webhooks at /hooks (no Berth token). */
/** `addons`: routes under /addons (add-on backups), wired with the add-ons. */
export function createApi(s: Services, extra: { git?: Hono; live?: (s: Services) => Hono<ApiEnv>; ui?: Hono; apps?: Hono<ApiEnv>[]; hooks?: Hono; addons?: Hono<ApiEnv> } = {}): Hono<ApiEnv> {
  const root = new Hono<ApiEnv>();
  root.onError((err, c) => errorResponse(err, c, s.log));
  root.notFound((c) => c.json({ error: 'not_found', message: `No such endpoint: ${c.req.method} ${c.req.path}` }, 404));

  const v1 = new Hono<ApiEnv>();
  v1.get('/health', (c) => c.json({ ok: true, version: s.version }));
  const limitBody = bodyLimit({
    maxSize: s.maxBodyBytes,
    onError: () => { throw new BerthError(413, 'payload_too_large', `The request body is larger than ${s.maxBodyBytes} bytes.`); },
  });
  // A restore streams a whole backup: its own limits apply as it is read (src/backup/archive-reader.ts); an
  // add-on's restore from a file streams its dump into the backup store.
  const streamedUpload = (path: string) => path === RESTORE_PATH || RESTORE_UPLOAD_PATH.test(path);
  v1.use('*', (c, next) => (c.req.method === 'POST' && streamedUpload(c.req.path) ? next() : limitBody(c, next)));
  v1.route('/session', sessionRoutes(s)); // signs in, so it comes before the user check
  v1.use('*', auditTrail(s.audit, s.log)); // outside the user check, so refused changes are on record too
  v1.use('*', requireUser(s.auth, s.sessions, s.audit));
  v1.use('/apps/:app', requireAppAccess(s.access));
  v1.use('/apps/:app/*', requireAppAccess(s.access));
  v1.route('/apps', appsRoutes(s));
  for (const routes of [releasesRoutes, configRoutes, psRoutes, domainsRoutes, accessRoutes, metricsRoutes, alertsRoutes, stoppingRoutes, runRoutes, detachedRunRoutes, reviewsRoutes]) v1.route('/apps', routes(s));
  for (const routes of extra.apps ?? []) v1.route('/apps', routes);
  if (extra.addons) v1.route('/addons', extra.addons);
  v1.route('/users', usersRoutes(s));
  v1.route('/audit', auditRoutes(s));
  v1.route('/admin', adminRoutes(s));
  v1.route('/admin', backupRoutes(s));
  v1.route('/tokens', tokensRoutes(s));
  if (extra.live) v1.route('/', extra.live(s));
  if (s.hosts) v1.route('/hosts', hostsRoutes(s.hosts));
  root.route('/api/v1', v1);
  root.route('/metrics', prometheusRoute(s)); // Prometheus scrapes here, with its own token rule
  if (extra.git) root.route('/git', extra.git);
  if (extra.hooks) root.route('/hooks', extra.hooks); // signed by the git host, not by a Berth token
  if (extra.ui) root.route('/', extra.ui);
  return root;
}
