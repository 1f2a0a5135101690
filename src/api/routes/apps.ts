// /apps: list, create, show, destroy.
import { Hono, type Context } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { appView } from '../views.ts';
import { requestOrigin } from '../origin.ts';
import { checkDefaultNameFree } from './domains.ts';
import { checkAppName, checkBranchName, checkHostnameNotReserved } from '../../shared/validation.ts';
import { BerthError, badRequest } from '../../shared/errors.ts';
import type { AppRow } from '../../state/apps-store.ts';
import type { Instance } from '../../runtime/types.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'access' | 'apps' | 'builds' | 'deployer' | 'log' | 'releases' | 'reviewApps' | 'schedulers' | 'view'>;

export function appsRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const view = (c: Context, app: AppRow, instances: Instance[], review = s.reviewApps?.describer()) => appView(app, {
    domains: s.deployer.hostnames(app), instances: instances.filter((i) => i.app === app.name),
    formation: s.apps.formation(app.id), lastRelease: s.releases.list(app.id, 1)[0], requestOrigin: requestOrigin(c),
    review: review?.(app),
  }, s.view);

  api.get('/', async (c) => {
    const instances = await s.schedulers.list();
    const user = c.get('user');
    const review = s.reviewApps?.describer();
    return c.json(s.apps.list().filter((app) => s.access.canSee(user, app.name)).map((app) => view(c, app, instances, review)));
  });

  api.post('/', async (c) => {
    const body = await jsonBody(c);
    const name = checkAppName(body.name);
    c.set('auditApp', name);
    checkDefaultNameFree(s, c.get('user'), name);
    checkHostnameNotReserved(`${name}.${s.view.domain}`, s.view.apiHostName);
    const app = await s.deployer.create(name, body.scheduler ?? undefined); // its route answers 503 until the first deploy
    s.access.addMember(app.id, c.get('user').id); // the creator can always see what they made
    return c.json(view(c, app, []), 201);
  });

  api.get('/:app', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    return c.json(view(c, app, await s.schedulers.list(app.name)));
  });

  api.patch('/:app', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const body = await jsonBody(c);
    if (body.deployBranch === undefined && body.scheduler === undefined && body.name === undefined) {
      throw badRequest('bad_request', 'Nothing to change: expected {"deployBranch": "main"}, {"scheduler": "k3s"} or {"name": "new-name"}.');
    }
    const reviewOf = s.reviewApps?.describe(app).reviewOf;
    if (reviewOf && (body.name !== undefined || body.deployBranch !== undefined)) {
      throw new BerthError(422, 'review_app', `${app.name} is the review app of ${reviewOf.app}'s branch ${reviewOf.branch}: its name and branch follow that branch.`);
    }
    if (body.deployBranch !== undefined) s.apps.update(app.id, { deployBranch: checkBranchName(body.deployBranch) });
    if (body.scheduler !== undefined) await s.deployer.moveTo(app.name, body.scheduler, (line) => s.log(`apps:scheduler ${app.name}: ${line}`));
    // Last: the other changes above are made under the name the request used.
    const name = body.name === undefined ? app.name : (await s.deployer.rename(app.name, body.name)).name;
    return c.json(view(c, s.apps.get(name), await s.schedulers.list(name)));
  });

  api.get('/:app/builds', (c) => {
    const app = s.apps.get(c.req.param('app'));
    return c.json(s.builds.list(app.id));
  });

  api.delete('/:app', async (c) => {
    const name = c.req.param('app');
    s.apps.get(name);
    const body = await jsonBody(c);
    if (body.confirm !== name) {
      throw badRequest('confirmation_required', `Destroying "${name}" is permanent: confirm with the app's name.`);
    }
    await s.deployer.destroy(name);
    return c.json({ deleted: name });
  });
  return api;
}
