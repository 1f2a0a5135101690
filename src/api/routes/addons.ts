// /apps/:app/addons: data services (addons:create, attach, detach, destroy) and outside service bindings.
// Every change is audited by the trail with a detail naming the kind, add-on and var, never a URL or password.
import { Hono, type Context } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { jsonBody } from '../errors.ts';
import { BerthError } from '../../shared/errors.ts';
import { RUN_ERROR_HEADER } from '../../wire/types.ts';
import type { AccessStore } from '../../state/access-store.ts';
import type { Addons, Caller } from '../../addons/service.ts';
import { terminalChecks, terminalSocket, type TerminalServices, type TerminalTarget } from '../../web/terminal.ts';

export function addonsRoutes(s: TerminalServices & { addons: Addons; access: AccessStore }): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  // addons:connect: the console terminal's websocket, with the kind's client in the service's container.
  const client: TerminalTarget = {
    find: async (c) => s.addons.findBound(c.req.param('app')!, c.req.param('name')!),
    open: (c, size) => s.addons.openClient(c.req.param('app')!, c.req.param('name')!, size),
  };
  const checks = terminalChecks(s, client);
  api.get('/:app/addons/:name/connect', async (c, next) => {
    try {
      await checks(c, async () => {});
    } catch (err) {
      // A refused upgrade loses its body on the way out (@hono/node-server): the message rides in a header too.
      if (err instanceof BerthError) c.header(RUN_ERROR_HEADER, encodeURIComponent(err.message));
      throw err;
    }
    await next();
  }, terminalSocket(s, client));
  const caller = (c: Context<ApiEnv>): Caller => {
    const user = c.get('user');
    return { name: user.name, canSee: (app) => s.access.canSee(user, app) };
  };

  api.get('/:app/addons', async (c) => c.json(await s.addons.list(c.req.param('app'), caller(c))));

  api.post('/:app/addons', async (c) => {
    const body = await jsonBody(c);
    c.set('auditDetail', `create ${String(body.kind).slice(0, 20)}${typeof body.name === 'string' ? ` ${body.name.slice(0, 40)}` : ''}`);
    const created = await s.addons.create(c.req.param('app'), body, caller(c));
    c.set('auditDetail', `created ${created.addon.kind} ${created.addon.name} as ${created.var}`);
    return c.json(created, 201);
  });

  // Before /:name, which would take "attach" for a name.
  api.post('/:app/addons/attach', async (c) => {
    const body = await jsonBody(c);
    const outside = body.url !== undefined;
    c.set('auditDetail', outside ? 'attach an outside service' : `attach ${String(body.name).slice(0, 40)}`);
    const attached = await s.addons.attach(c.req.param('app'), body, caller(c));
    c.set('auditDetail', outside ? `attached an outside ${attached.addon.kind} service as ${attached.var}` : `attached ${attached.addon.name} as ${attached.var}`);
    return c.json(attached, 201);
  });

  api.get('/:app/addons/:name', async (c) =>
    c.json(await s.addons.info(c.req.param('app'), c.req.param('name'), c.req.query('reveal') === 'true', caller(c))));

  api.delete('/:app/addons/:name/attachment', async (c) => {
    c.set('auditDetail', `detach ${c.req.param('name').slice(0, 128)}`);
    return c.json(await s.addons.detach(c.req.param('app'), c.req.param('name'), caller(c)));
  });

  api.delete('/:app/addons/:name', async (c) => {
    const body = await jsonBody(c).catch(() => ({} as Record<string, unknown>));
    const keepBackups = body.keepBackups === true;
    c.set('auditDetail', `destroy ${c.req.param('name').slice(0, 40)}${keepBackups ? ', keeping its backups' : ''}`);
    return c.json(await s.addons.destroy(c.req.param('app'), c.req.param('name'), body.confirm, caller(c), keepBackups));
  });
  return api;
}
