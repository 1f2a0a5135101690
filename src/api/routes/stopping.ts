// Taking an app, or part of it, off without losing anything: maintenance:on/off (the route answers 503,
// instances run on), apps:stop/start (nothing runs, formation kept) and ps:stop (instances replaced).
// Each is one converge of the current release, no new release; the audit trail records every call.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { badRequest } from '../../shared/errors.ts';
import type { AppRow } from '../../state/apps-store.ts';
import type { AppSwitches } from '../../wire/types.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'deployer' | 'apps'>;

const switches = (app: AppRow): AppSwitches => ({ app: app.name, maintenance: app.maintenance, stopped: app.stopped });

export function stoppingRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.post('/:app/maintenance', async (c) => {
    const { enabled } = await jsonBody(c);
    if (typeof enabled !== 'boolean') throw badRequest('bad_request', 'Send {"enabled": true} or {"enabled": false}.');
    return c.json(switches(await s.deployer.setMaintenance(s.apps.get(c.req.param('app')).name, enabled)));
  });

  api.post('/:app/stop', async (c) => c.json(switches(await s.deployer.setStopped(s.apps.get(c.req.param('app')).name, true))));
  api.post('/:app/start', async (c) => c.json(switches(await s.deployer.setStopped(s.apps.get(c.req.param('app')).name, false))));

  api.post('/:app/ps/stop', async (c) => {
    const { target } = await jsonBody(c);
    if (typeof target !== 'string') throw badRequest('bad_request', 'Send {"target": "web.2"} or {"target": "worker"}.');
    const stopped = await s.deployer.stopInstances(s.apps.get(c.req.param('app')).name, target);
    return c.json({ stopped: stopped.map((i) => `${i.process}.${i.index}`) });
  });
  return api;
}
