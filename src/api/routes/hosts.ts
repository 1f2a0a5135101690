// /hosts (admins): the machines apps run on. POST streams the installer's task lines as NDJSON, one
// {task, status, detail?} object per task, then {done: true, summary}.
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import type { ApiEnv } from '../auth.ts';
import { requireAdmin } from '../auth.ts';
import { jsonBody } from '../errors.ts';
import type { HostsService } from '../../hosts/service.ts';
import { badRequest } from '../../shared/errors.ts';
import type { NodeList } from '../../wire/hosts.ts';

const optionalString = (value: unknown, field: string): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !value) throw badRequest('bad_request', `${field} must be a non-empty string.`);
  return value;
};

export function hostsRoutes(hosts: HostsService): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.use('*', async (c, next) => { requireAdmin(c); await next(); });

  api.get('/', async (c) => c.json(await hosts.list()));

  // The cluster's nodes (404 no_cluster without one).
  api.get('/nodes', async (c) => c.json({ nodes: await hosts.listNodes() } satisfies NodeList));

  api.post('/', async (c) => {
    const body = await jsonBody(c);
    const plan = await hosts.plan({
      address: optionalString(body.address, 'address') ?? '',
      name: optionalString(body.name, 'name'),
      role: optionalString(body.role, 'role'),
      sshKey: optionalString(body.sshKey, 'sshKey'),
      hostKey: optionalString(body.hostKey, 'hostKey'),
      podCidr: optionalString(body.podCidr, 'podCidr'),
      check: body.check === true,
    });
    c.set('auditDetail', `host ${plan.name} (${plan.role}) at ${plan.login.user}@${plan.login.host}${plan.hostKey ? `, host key ${plan.hostKey}` : ''}` +
      `${plan.kubeletNode ? `, pods ${plan.kubeletNode.podCidr}` : ''}${plan.checkOnly ? ', check only' : ''}`);
    c.header('content-type', 'application/x-ndjson');
    c.header('cache-control', 'no-cache');
    return stream(c, async (out) => {
      const summary = await hosts.add(plan, (line) => { out.write(`${JSON.stringify(line)}\n`); });
      await out.write(`${JSON.stringify({ done: true, summary })}\n`);
    });
  });

  api.post('/:name/drain', async (c) => {
    const name = c.req.param('name');
    const lines: string[] = [];
    const result = await hosts.drain(name, (line) => lines.push(line));
    return c.json({ name, draining: true, ...result, log: lines });
  });

  api.delete('/:name/drain', async (c) => {
    const name = c.req.param('name');
    await hosts.undrain(name);
    return c.json({ name, draining: false });
  });

  api.delete('/:name', async (c) => {
    const name = c.req.param('name');
    const lines: string[] = [];
    const result = await hosts.remove(name, (line) => lines.push(line));
    return c.json({ deleted: name, moved: result.moved, log: lines });
  });
  return api;
}
