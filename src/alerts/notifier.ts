// Webhook notifications: generic JSON or Slack-compatible {text}, retried with exponential backoff a
// bounded number of times; every attempt is written to the delivery log. Every attempt goes through the
// OutboundGuard, which dials only addresses webhooks may reach (checked where the socket connects, so a
// name that now resolves to 127.0.0.1 is caught) and never follows a redirect. A refused attempt records
// one generic reason, so the delivery log cannot map internal ports.
import { Semaphore } from '../shared/semaphore.ts';
import { OutboundRefusedError, type OutboundGuard } from '../shared/outbound-request.ts';
import type { AlertEvent, AlertRule, AlertsStore } from './store.ts';

export interface NotifierOptions {
  store: AlertsStore;
  log: (line: string) => void;
  guard: OutboundGuard;
  maxAttempts?: number;       // default 5
  backoffMs?: number;         // first retry delay, doubled each time (default 1 s: 1, 2, 4, 8 s)
  timeoutMs?: number;         // per attempt (default 5 s)
}

export class WebhookNotifier {
  private readonly opts: Required<NotifierOptions>;
  private readonly inFlight = new Semaphore(4);
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(opts: NotifierOptions) {
    this.opts = { maxAttempts: 5, backoffMs: 1000, timeoutMs: 5000, ...opts };
  }

  /** Queues the delivery and returns at once; the evaluation loop never waits on a webhook. `body`: another payload (autoscale). */
  notify(rule: AlertRule, event: AlertEvent, body: Record<string, unknown> = payload(rule, event)): void {
    const delivery = this.inFlight.run(() => this.deliver(rule, event, JSON.stringify(body))).catch((err) =>
      this.opts.log(`alerts: delivering event ${event.id} failed: ${(err as Error).message}`));
    this.pending.add(delivery);
    delivery.finally(() => this.pending.delete(delivery));
  }

  /** Lets deliveries under way finish their current attempt; no new retries start. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.pending]);
  }

  /** Resolves when every queued delivery is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  private async deliver(rule: AlertRule, event: AlertEvent, body: string): Promise<void> {
    for (let attempt = 1; attempt <= this.opts.maxAttempts; attempt++) {
      let status: number | null = null;
      let error: string | null = null;
      let refused = false;
      try {
        const res = await this.opts.guard.post(new URL(rule.webhook), body, {
          headers: { 'content-type': 'application/json', 'user-agent': 'berth-alerts' }, timeoutMs: this.opts.timeoutMs,
        });
        status = res.status;
        if (status >= 200 && status < 300) error = null;
        else if (status >= 300 && status < 400) error = `answered ${status}; redirects are not followed`;
        else error = `answered ${status}`;
      } catch (err) {
        refused = err instanceof OutboundRefusedError;
        if (refused) this.opts.log(`alerts: webhook of ${rule.app} rule ${rule.id} refused: ${(err as OutboundRefusedError).detail}`);
        error = refused ? (err as Error).message : failure(err, this.opts.timeoutMs);
      }
      this.opts.store.logDelivery({ eventId: event.id, url: rule.webhook, attempt, status, error, at: Date.now() });
      if (error === null) return;
      // A refused address and 3xx/4xx other than 408/429 will not get better by asking again.
      const retryable = !refused && (status === null || status >= 500 || status === 408 || status === 429);
      if (!retryable || attempt === this.opts.maxAttempts || this.stopped) {
        this.opts.log(`alerts: webhook for ${rule.app} rule ${rule.id} gave up after ${attempt} attempt(s): ${error}`);
        return;
      }
      await new Promise((r) => setTimeout(r, this.opts.backoffMs * 2 ** (attempt - 1)));
    }
  }
}

function failure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return `no answer within ${timeoutMs} ms`;
  return err instanceof Error ? err.message : String(err);
}

export function payload(rule: AlertRule, event: AlertEvent): Record<string, unknown> {
  const state = event.kind === 'resolved' ? 'resolved' : 'firing';
  if (rule.format === 'slack') {
    const icon = state === 'firing' ? ':rotating_light:' : ':white_check_mark:';
    const label = event.kind === 'still_firing' ? 'STILL FIRING' : state.toUpperCase();
    return { text: `${icon} [${rule.app}] ${label}: \`${rule.expr}\` (${event.message})` };
  }
  return {
    app: rule.app, ruleId: rule.id, rule: rule.expr, state, event: event.kind, eventId: event.id,
    value: event.value, message: event.message, at: new Date(event.at).toISOString(),
  };
}
