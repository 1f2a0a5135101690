// The inputs of the non-metric rules, kept in memory: keyword counts from log lines, restart counts of
// instances, and which hosts are down.
import type { Instance } from '../runtime/types.ts';

const SLOT_MS = 10_000;

/**
 * Counts log lines containing a rule's keyword in 10 s slots. recordLogLine is on the log collector's path,
 * so it does one Map lookup per line for apps without keyword rules, and a substring test per keyword otherwise.
 */
export class LogKeywordCounter {
  private keywords = new Map<string, { ruleId: number; keyword: string; windowMs: number }[]>();
  private readonly slots = new Map<number, Map<number, number>>(); // rule id → slot start → lines

  /** Replaces the watched keywords (after rules were added or removed). */
  watch(rules: { ruleId: number; app: string; keyword: string; windowMs: number }[]): void {
    const next = new Map<string, { ruleId: number; keyword: string; windowMs: number }[]>();
    for (const r of rules) next.set(r.app, [...(next.get(r.app) ?? []), r]);
    this.keywords = next;
    const live = new Set(rules.map((r) => r.ruleId));
    for (const id of this.slots.keys()) if (!live.has(id)) this.slots.delete(id);
  }

  record(app: string, text: string, tsMs: number): void {
    const watched = this.keywords.get(app);
    if (!watched) return;
    for (const w of watched) {
      if (!text.includes(w.keyword)) continue;
      let slots = this.slots.get(w.ruleId);
      if (!slots) this.slots.set(w.ruleId, slots = new Map());
      const slot = tsMs - (tsMs % SLOT_MS);
      slots.set(slot, (slots.get(slot) ?? 0) + 1);
      if (slots.size > w.windowMs / SLOT_MS + 2) this.dropBefore(slots, tsMs - w.windowMs - SLOT_MS);
    }
  }

  count(ruleId: number, windowMs: number, nowMs: number): number {
    const slots = this.slots.get(ruleId);
    if (!slots) return 0;
    this.dropBefore(slots, nowMs - windowMs - SLOT_MS);
    let n = 0;
    for (const [slot, lines] of slots) if (slot + SLOT_MS > nowMs - windowMs) n += lines;
    return n;
  }

  private dropBefore(slots: Map<number, number>, cutoff: number): void {
    for (const slot of slots.keys()) if (slot < cutoff) slots.delete(slot);
  }
}

/**
 * Restarts per app from the engine's restart counts, polled each evaluation. Each container's count is
 * remembered with the time it was seen, so "restarts in the last 5 minutes" is the growth over that span.
 */
export class RestartTracker {
  private readonly history = new Map<string, Map<string, { at: number; count: number }[]>>(); // app → container → readings

  observe(app: string, instances: Pick<Instance, 'id' | 'restartCount'>[], nowMs: number, keepMs: number): void {
    const containers = this.history.get(app) ?? new Map<string, { at: number; count: number }[]>();
    const seen = new Set<string>();
    for (const instance of instances) {
      seen.add(instance.id);
      const readings = containers.get(instance.id) ?? [];
      readings.push({ at: nowMs, count: instance.restartCount });
      while (readings.length > 1 && readings[1].at <= nowMs - keepMs) readings.shift();
      containers.set(instance.id, readings);
    }
    for (const id of containers.keys()) if (!seen.has(id)) containers.delete(id);
    this.history.set(app, containers);
  }

  restartsWithin(app: string, windowMs: number, nowMs: number): number {
    let total = 0;
    for (const readings of this.history.get(app)?.values() ?? []) {
      // The count at the window's start, or the first one seen when the container is younger than the window.
      const baseline = readings.filter((r) => r.at <= nowMs - windowMs).at(-1) ?? readings[0];
      total += readings.at(-1)!.count - baseline.count;
    }
    return total;
  }

  /** Drops the history of apps that no longer have a crash-loop rule. */
  retain(apps: Set<string>): void {
    for (const app of this.history.keys()) if (!apps.has(app)) this.history.delete(app);
  }
}

/** Hosts reported down by whoever watches them (lost cluster nodes, nodes holding add-on data); names in the order reported. */
export class HostStatus {
  private readonly down = new Set<string>();
  hostDown(name: string): void { this.down.add(name); }
  hostUp(name: string): void { this.down.delete(name); }
  downHosts(): string[] { return [...this.down]; }
}
