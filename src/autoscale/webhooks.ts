// The autoscaler's notices go to the app's webhooks (those of its alert rules, each address once): an
// `autoscale` event per change, and an alert (firing / resolved) while the count is pinned at its maximum.
// Each is one alert event of the app, so its deliveries land in the same delivery log as the rules'.
import type { AlertEvent, AlertRule, AlertsStore, EventKind } from '../alerts/store.ts';
import type { WebhookNotifier } from '../alerts/notifier.ts';
import type { AutoscaleNotice } from './controller.ts';

const KIND: Record<AutoscaleNotice['kind'], EventKind> = { scaled: 'autoscale', failed: 'autoscale', pinned: 'firing', unpinned: 'resolved' };

export function autoscaleWebhooks(store: AlertsStore, notifier: Pick<WebhookNotifier, 'notify'>): (notice: AutoscaleNotice) => void {
  return (notice) => {
    const kind = KIND[notice.kind];
    const expr = notice.kind === 'pinned' || notice.kind === 'unpinned' ? `autoscale ${notice.process} at max` : `autoscale ${notice.process}`;
    const event = store.addAppEvent(notice.appId, notice.app, { expr, kind, value: notice.to, message: messageOf(notice), at: notice.at });
    const seen = new Set<string>();
    for (const rule of store.list(notice.appId)) {
      const target = `${rule.format} ${rule.webhook}`;
      if (seen.has(target)) continue;
      seen.add(target);
      notifier.notify(rule, event, autoscalePayload(rule, event, notice));
    }
  };
}

export function messageOf(n: AutoscaleNotice): string {
  switch (n.kind) {
    case 'scaled': return `${n.process} scaled from ${n.from} to ${n.to}: ${n.reason}`;
    case 'failed': return `${n.process} could not be scaled from ${n.from} to ${n.to}: ${n.reason}`;
    case 'pinned': return `${n.process} is pinned at its maximum of ${n.to}: ${n.reason}`;
    case 'unpinned': return `${n.process} is ${n.reason} of ${n.to}`;
  }
}

export function autoscalePayload(rule: AlertRule, event: AlertEvent, n: AutoscaleNotice): Record<string, unknown> {
  if (rule.format === 'slack') {
    const icon = n.kind === 'pinned' ? ':rotating_light:' : n.kind === 'failed' ? ':warning:' : n.to > n.from ? ':arrow_up:' : n.to < n.from ? ':arrow_down:' : ':white_check_mark:';
    return { text: `${icon} [${n.app}] autoscale: ${event.message}` };
  }
  const state = n.kind === 'pinned' ? 'firing' : n.kind === 'unpinned' ? 'resolved' : undefined;
  return {
    app: n.app, event: 'autoscale', kind: n.kind, ...(state ? { state } : {}), eventId: event.id, process: n.process,
    from: n.from, to: n.to, reason: n.reason, message: event.message, at: new Date(n.at).toISOString(),
  };
}
