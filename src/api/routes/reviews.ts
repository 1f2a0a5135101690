// /apps/:app/reviews (apps:reviews on|off) and /apps/:app/config/no-review (config vars review apps do not get).
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { appUrl } from '../views.ts';
import { BerthError, badRequest, notFound } from '../../shared/errors.ts';
import { checkConfigKey } from '../../shared/validation.ts';
import { requireDurationMs } from '../../shared/duration.ts';
import type { AppRow } from '../../state/apps-store.ts';
import type { ReviewApps as ReviewAppsView } from '../../wire/types.ts';

type RouteServices = Pick<Services, 'apps' | 'reviewApps' | 'view'>;

export const DEFAULT_REVIEW_TTL_SEC = 72 * 3600;
const MAX_REVIEW_TTL_SEC = 365 * 86_400;

export function reviewsRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const reviewApps = () => {
    if (!s.reviewApps) throw new BerthError(501, 'not_supported', 'This server has no git push pipeline: review apps need one.');
    return s.reviewApps;
  };
  const answer = (app: AppRow, destroyed?: string[]): ReviewAppsView => {
    const { reviews } = reviewApps().describe(app);
    return {
      app: app.name, enabled: reviews !== null, ttlSec: reviews?.ttlSec ?? null,
      apps: reviewApps().children(app).map((child) => ({ ...child, url: appUrl(child.name, s.view) })),
      ...(destroyed ? { destroyed } : {}),
    };
  };

  api.get('/:app/reviews', (c) => c.json(answer(s.apps.get(c.req.param('app')))));

  api.patch('/:app/reviews', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const body = await jsonBody(c);
    if (typeof body.enabled !== 'boolean') throw badRequest('bad_request', 'Expected {"enabled": true, "ttl": "72h"} or {"enabled": false}.');
    if (!body.enabled) return c.json(answer(app, await reviewApps().disable(app)));
    const ttlSec = body.ttl === undefined || body.ttl === null ? DEFAULT_REVIEW_TTL_SEC : reviewTtlSec(body.ttl);
    reviewApps().enable(app, ttlSec);
    return c.json(answer(app));
  });

  api.get('/:app/config/no-review', (c) => c.json(s.apps.noReviewKeys(s.apps.get(c.req.param('app')).id)));

  /** {"KEY": true} marks KEY, {"KEY": false} unmarks it; only vars that are set can be marked. */
  api.patch('/:app/config/no-review', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const body = await jsonBody(c);
    const entries = Object.entries(body);
    if (entries.length === 0 || entries.some(([key, value]) => (checkConfigKey(key), typeof value !== 'boolean'))) {
      throw badRequest('bad_request', 'Expected {"KEY": true} to keep KEY out of review apps, {"KEY": false} to copy it again.');
    }
    const set = s.apps.config(app.id);
    const missing = entries.map(([key]) => key).filter((key) => !Object.hasOwn(set, key));
    if (missing.length) throw notFound(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set on ${app.name}.`);
    for (const on of [true, false]) s.apps.markNoReview(app.id, entries.filter(([, value]) => value === on).map(([key]) => key), on);
    return c.json(s.apps.noReviewKeys(app.id));
  });
  return api;
}

function reviewTtlSec(raw: unknown): number {
  const ms = requireDurationMs('ttl', String(raw));
  const sec = Math.round(ms / 1000);
  if (sec < 1 || sec > MAX_REVIEW_TTL_SEC) throw badRequest('bad_request', `ttl must be from 1s to 365d (got "${raw}").`);
  return sec;
}
