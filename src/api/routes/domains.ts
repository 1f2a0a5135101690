// /apps/:app/domains: the default APP.<domain> plus custom hostnames, each applied to the router at once.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { checkHostname } from '../../shared/validation.ts';
import { conflict, notFound } from '../../shared/errors.ts';

export function domainsRoutes(s: Services): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/domains', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const [primary, ...custom] = s.deployer.hostnames(app);
    return c.json([{ hostname: primary, kind: 'default' }, ...custom.map((hostname) => ({ hostname, kind: 'custom' }))]);
  });

  api.post('/:app/domains', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const hostname = checkHostname((await jsonBody(c)).hostname);
    const owner = s.apps.domainOwner(hostname);
    const defaultOwner = s.apps.list().find((a) => `${a.name}.${s.view.domain}` === hostname);
    if (owner !== undefined || defaultOwner) {
      throw conflict(`The hostname ${hostname} is already used by ${owner === app.id || defaultOwner?.id === app.id ? 'this app' : 'another app'}.`);
    }
    s.apps.addDomain(app.id, hostname);
    await s.deployer.converge(app.name);
    return c.json({ hostname, kind: 'custom' }, 201);
  });

  api.delete('/:app/domains/:hostname', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const hostname = c.req.param('hostname').toLowerCase();
    if (!s.apps.removeDomain(app.id, hostname)) throw notFound(`The app "${app.name}" has no custom domain ${hostname}.`);
    await s.deployer.converge(app.name);
    return c.json({ deleted: hostname });
  });
  return api;
}
