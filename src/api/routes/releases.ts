// /apps/:app/deploys, /releases, /rollback: the release history and the ways to add to it.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { releaseView } from '../views.ts';
import { badRequest } from '../../shared/errors.ts';

export function releasesRoutes(s: Services): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const current = (name: string) => s.apps.get(name).currentRelease;

  api.post('/:app/deploys', async (c) => {
    const name = c.req.param('app');
    s.apps.get(name);
    const body = await jsonBody(c);
    const release = await s.deployer.deploy(name, body.image, c.get('user').name,
      (line) => s.log(`deploy ${name}: ${line}`));
    return c.json(releaseView(release, current(name)), 201);
  });

  api.get('/:app/releases', (c) => {
    const app = s.apps.get(c.req.param('app'));
    return c.json(s.releases.list(app.id).map((r) => releaseView(r, app.currentRelease)));
  });

  api.get('/:app/releases/:version', (c) => {
    const app = s.apps.get(c.req.param('app'));
    return c.json(releaseView(s.releases.get(app.id, parseVersion(c.req.param('version'))), app.currentRelease));
  });

  api.post('/:app/rollback', async (c) => {
    const name = c.req.param('app');
    s.apps.get(name);
    const body = await jsonBody(c);
    const version = body.version === undefined || body.version === null ? undefined : parseVersion(body.version);
    const release = await s.deployer.rollback(name, version, c.get('user').name);
    return c.json(releaseView(release, current(name)), 201);
  });
  return api;
}

function parseVersion(raw: unknown): number {
  const text = String(raw).replace(/^v/i, '');
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw badRequest('invalid_version', `Invalid release version ${JSON.stringify(raw)}: expected like v3 or 3.`);
  }
  return n;
}
