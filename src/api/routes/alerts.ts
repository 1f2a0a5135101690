// /apps/:app/alerts: alert rules (add, list, remove) and their firing/resolved history.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { BerthError, badRequest, notFound } from '../../shared/errors.ts';
import { OutboundRefusedError, type OutboundGuard } from '../../shared/outbound-request.ts';
import { parseRule } from '../../alerts/rules.ts';
import type { AlertRule, WebhookFormat } from '../../alerts/store.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'alerts' | 'apps'>;

const DEFAULT_RENOTIFY_MINUTES = 60;
const MAX_EVENTS = 500;

export function alertsRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/alerts', (c) => {
    const app = s.apps.get(c.req.param('app'));
    return c.json(s.alerts.store.list(app.id).map(ruleView));
  });

  api.post('/:app/alerts', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const body = await jsonBody(c);
    const rule = parseRule(body.rule);
    const webhook = await checkWebhook(body.webhook, s.alerts.guard);
    const added = s.alerts.store.add(app.id, {
      expr: String(body.rule).trim(), rule, webhook, format: checkFormat(body.format),
      renotifyMinutes: checkRenotify(body.renotifyMinutes), createdBy: c.get('user').name,
    });
    s.alerts.engine.rulesChanged();
    return c.json(ruleView(added), 201);
  });

  api.delete('/:app/alerts/:id', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const id = Number(c.req.param('id'));
    if (!Number.isSafeInteger(id) || !s.alerts.store.remove(app.id, id)) throw notFound(`App ${app.name} has no alert rule ${c.req.param('id')}.`);
    s.alerts.engine.rulesChanged();
    return c.json({ deleted: id });
  });

  api.get('/:app/alerts/events', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const limit = Number(c.req.query('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENTS) throw badRequest('bad_request', `limit must be 1-${MAX_EVENTS}.`);
    return c.json(s.alerts.store.events(app.id, limit).map((e) => ({ ...e, at: new Date(e.at).toISOString(),
      deliveries: e.deliveries.map((d) => ({ ...d, at: new Date(d.at).toISOString() })) })));
  });
  return api;
}

function ruleView(r: AlertRule) {
  return {
    id: r.id, rule: r.expr, kind: r.rule.kind, state: r.state,
    stateSince: r.stateSince === null ? null : new Date(r.stateSince).toISOString(),
    webhook: r.webhook, format: r.format, renotifyMinutes: r.renotifyMinutes,
    lastNotifiedAt: r.lastNotifiedAt === null ? null : new Date(r.lastNotifiedAt).toISOString(),
    createdBy: r.createdBy, createdAt: r.createdAt,
  };
}

/** A well-formed http(s) URL (400 otherwise) whose host resolves only to addresses webhooks may reach (422). */
async function checkWebhook(raw: unknown, guard: OutboundGuard): Promise<string> {
  let url: URL | null = null;
  try { url = typeof raw === 'string' ? new URL(raw) : null; } catch { url = null; }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || String(raw).length > 2000) {
    throw badRequest('invalid_webhook', 'webhook must be an http:// or https:// URL.');
  }
  if (url.username || url.password) throw badRequest('invalid_webhook', 'webhook must not carry a user name or password; put a secret in its path.');
  try {
    await guard.vet(url);
  } catch (err) {
    if (!(err instanceof OutboundRefusedError)) throw err;
    throw new BerthError(422, 'webhook_forbidden', `webhook ${url.origin} cannot be used: ${err.message}. ` +
      'Alert webhooks reach public addresses only; an admin can allow internal receivers with BERTH_WEBHOOK_ALLOW.');
  }
  return url.toString();
}

function checkFormat(raw: unknown): WebhookFormat {
  if (raw === undefined || raw === null) return 'json';
  if (raw !== 'json' && raw !== 'slack') throw badRequest('invalid_format', 'format must be "json" or "slack".');
  return raw;
}

function checkRenotify(raw: unknown): number {
  if (raw === undefined || raw === null) return DEFAULT_RENOTIFY_MINUTES;
  if (!Number.isInteger(raw) || (raw as number) < 0 || (raw as number) > 7 * 24 * 60) {
    throw badRequest('bad_request', 'renotifyMinutes must be a whole number of minutes from 0 (never) to 10080.');
  }
  return raw as number;
}
