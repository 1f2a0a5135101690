// /apps/:app/autoscale: ps:autoscale's settings per process type and the autoscaler's recent decisions.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { jsonBody } from '../errors.ts';
import type { AppsStore } from '../../state/apps-store.ts';
import type { AutoscaleService } from '../../autoscale/service.ts';

export function autoscaleRoutes(s: { apps: AppsStore; autoscale: AutoscaleService }): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/autoscale', (c) => c.json(s.autoscale.show(s.apps.get(c.req.param('app')))));

  api.put('/:app/autoscale/:type', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const setting = s.autoscale.set(app, c.req.param('type'), await jsonBody(c), c.get('user').name);
    c.set('auditDetail', `${setting.process} ${setting.min}-${setting.max} on ${setting.signal} ${setting.target}, cooldown ${setting.cooldownSec}s`);
    return c.json(setting);
  });

  api.delete('/:app/autoscale/:type', (c) => {
    const app = s.apps.get(c.req.param('app'));
    s.autoscale.off(app, c.req.param('type'));
    return c.json({ app: app.name, process: c.req.param('type'), autoscale: false });
  });
  return api;
}
