// /apps/:app/canary: the running canary (state, weight, comparison), its promote and abort, and apps:canary's plan
// for pushes (/apps/:app/canary-settings). Starting one is POST /apps/:app/deploys with a `canary` plan.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { jsonBody } from '../errors.ts';
import { BerthError, notFound } from '../../shared/errors.ts';
import type { AppsStore } from '../../state/apps-store.ts';
import type { ReleasesStore } from '../../state/releases-store.ts';
import type { CanaryStore } from '../../canary/store.ts';
import type { CanaryController } from '../../canary/controller.ts';
import { parsePlan, type PlanInput } from '../../canary/plan.ts';
import { canaryView, planView } from '../../canary/view.ts';
import { releaseView } from '../views.ts';

export interface CanaryRouteServices {
  apps: AppsStore;
  releases: ReleasesStore;
  canaries: CanaryStore;
  controller: CanaryController;
  log: (line: string) => void;
}

export function canaryRoutes(s: CanaryRouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const releaseAnswer = (appName: string, version: number) => {
    const app = s.apps.get(appName);
    const release = s.releases.get(app.id, version);
    return { ...releaseView(release, app.currentRelease, s.releases.find(app.id, version - 1)), canary: canaryView(s.canaries.latest(app.id), version) };
  };

  api.get('/:app/canary', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const latest = s.canaries.latest(app.id);
    if (!latest) throw notFound(`${app.name} has never run a canary.`);
    return c.json({ version: latest.version, ...canaryView(latest, latest.version)! });
  });

  api.post('/:app/canary/promote', async (c) => {
    const name = c.req.param('app');
    const release = await s.controller.promote(name, (line) => s.log(`canary ${name}: ${line}`));
    return c.json(releaseAnswer(name, release.version), 200);
  });

  api.post('/:app/canary/abort', async (c) => {
    const name = c.req.param('app');
    const release = await s.controller.abort(name, `aborted by ${c.get('user').name}`, (line) => s.log(`canary ${name}: ${line}`));
    return c.json(releaseAnswer(name, release.version), 200);
  });

  api.get('/:app/canary-settings', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const plan = s.canaries.pushPlan(app.id);
    return c.json({ app: app.name, plan: plan && planView(plan) });
  });

  api.put('/:app/canary-settings', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const body = await jsonBody(c);
    if (typeof body.plan !== 'object' || body.plan === null || Array.isArray(body.plan)) throw new BerthError(400, 'invalid_canary', 'Expected {"plan": {...}}.');
    const plan = parsePlan(body.plan as PlanInput);
    s.canaries.setPushPlan(app.id, plan);
    return c.json({ app: app.name, plan: planView(plan) });
  });

  api.delete('/:app/canary-settings', (c) => {
    const app = s.apps.get(c.req.param('app'));
    s.canaries.setPushPlan(app.id, null);
    return c.json({ app: app.name, plan: null });
  });
  return api;
}
