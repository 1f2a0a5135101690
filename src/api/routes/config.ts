// /apps/:app/config: read, and change (each change is a new release; before the first image, it is only stored).
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { releaseView } from '../views.ts';
import { checkConfigKey, checkConfigValue } from '../../shared/validation.ts';
import { BerthError, badRequest } from '../../shared/errors.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'apps' | 'deployer' | 'releases' | 'configOwners'>;

export function configRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/config', (c) => c.json(s.apps.config(s.apps.get(c.req.param('app')).id)));

  api.patch('/:app/config', async (c) => {
    const name = c.req.param('app');
    const body = await jsonBody(c);
    const changes: Record<string, string | null> = {};
    const appId = s.apps.get(name).id;
    for (const [key, value] of Object.entries(body)) {
      checkConfigKey(key);
      // An add-on's var (DATABASE_URL) changes with the add-on only: a stray set would cut the app off its data.
      const owner = s.configOwners?.(appId, key);
      if (owner) throw new BerthError(422, 'owned_var', `${key} is owned by ${owner}: it changes only through berth addons.`);
      changes[key] = value === null ? null : checkConfigValue(key, value);
    }
    if (Object.keys(changes).length === 0) throw badRequest('bad_request', 'No config vars given.');
    // ?noReview=true (config:set --no-review): the vars set here are not copied to review apps.
    const noReview = c.req.query('noReview') === 'true' ? Object.keys(changes).filter((key) => changes[key] !== null) : [];
    const release = await s.deployer.setConfig(name, changes, c.get('user').name, noReview);
    const app = s.apps.get(name);
    if (!release) {
      return c.json({ config: s.apps.config(app.id), release: null, note: 'Stored; it takes effect with the first deploy.' });
    }
    const previous = s.releases.find(app.id, release.version - 1);
    return c.json({ config: s.apps.config(app.id), release: releaseView(release, app.currentRelease, previous) });
  });
  return api;
}
