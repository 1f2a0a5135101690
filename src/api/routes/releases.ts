// /apps/:app/deploys, /releases, /rollback: the release history and the ways to add to it.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { releaseView } from '../views.ts';
import type { ReleaseRow } from '../../state/releases-store.ts';
import { badRequest, BerthError } from '../../shared/errors.ts';
import { deployVerdict, labelVerdict, type Verdict } from '../../security/image-policy.ts';
import type { User } from '../../state/auth-store.ts';
import { checkImageRef } from '../../shared/validation.ts';
import { parsePlan, type PlanInput } from '../../canary/plan.ts';
import { canaryView } from '../../canary/view.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'apps' | 'canaries' | 'deployer' | 'images' | 'log' | 'releases' | 'schedulers'>;

export function releasesRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const current = (name: string) => s.apps.get(name).currentRelease;
  // configChanges compares with the release numbered one before; list pages already hold it.
  const previous = (r: ReleaseRow, loaded?: ReleaseRow) =>
    loaded?.version === r.version - 1 ? loaded : s.releases.find(r.appId, r.version - 1);
  // The app's latest canary shows on its release (state, weight, comparison with the stable release).
  const view = (r: ReleaseRow, currentVersion: number | null, before: ReleaseRow | undefined) => {
    const canary = canaryView(s.canaries?.store.latest(r.appId), r.version);
    return { ...releaseView(r, currentVersion, before), ...(canary ? { canary } : {}) };
  };

  api.post('/:app/deploys', async (c) => {
    const name = c.req.param('app');
    s.apps.get(name);
    const body = await jsonBody(c);
    await mayDeployImage(s, c.get('user'), name, body.image);
    const plan = body.canary === undefined || body.canary === null ? undefined : parseCanary(body.canary);
    const release = await s.deployer.deploy(name, body.image, c.get('user').name,
      (line) => s.log(`deploy ${name}: ${line}`), plan);
    return c.json(view(release, current(name), previous(release)), 201);
  });

  api.get('/:app/releases', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const list = s.releases.list(app.id);
    return c.json(list.map((r, i) => view(r, app.currentRelease, previous(r, list[i + 1]))));
  });

  api.get('/:app/releases/:version', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const release = s.releases.get(app.id, parseVersion(c.req.param('version')));
    return c.json(view(release, app.currentRelease, previous(release)));
  });

  api.post('/:app/rollback', async (c) => {
    const name = c.req.param('app');
    s.apps.get(name);
    const body = await jsonBody(c);
    const version = body.version === undefined || body.version === null ? undefined : parseVersion(body.version);
    const release = await s.deployer.rollback(name, version, c.get('user').name);
    return c.json(releaseView(release, current(name), previous(release)), 201);
  });
  return api;
}

/**
 * Members deploy only their app's own images (or what an admin allowed), never another app's: it holds that
 * team's code and build args, readable through a terminal. Admins may deploy anything.
 */
async function mayDeployImage(s: Pick<Services, 'images' | 'schedulers'>, user: User, app: string, image: unknown): Promise<void> {
  if (user.role === 'admin') return;
  const ref = checkImageRef(image);
  refuseUnless(deployVerdict(ref, app, s.images ?? { registries: [], allow: [] }));
  // Whatever it is called, an image Berth built for another app stays that app's.
  const found = await s.schedulers.forApp(app).resolveImage(ref);
  if (found) refuseUnless(labelVerdict(ref, found.labels, app));
}

function refuseUnless(verdict: Verdict): void {
  if (!verdict.ok) throw new BerthError(403, 'image_forbidden', `${verdict.reason}.`);
}

function parseCanary(raw: unknown) {
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('invalid_canary', 'canary must be an object like {"weight": 10}.');
  return parsePlan(raw as PlanInput);
}

function parseVersion(raw: unknown): number {
  const text = String(raw).replace(/^v/i, '');
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw badRequest('invalid_version', `Invalid release version ${JSON.stringify(raw)}: expected like v3 or 3.`);
  }
  return n;
}
