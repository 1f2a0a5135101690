// What the API asks of autoscaling: show, set and turn off an app's settings, and fold a manual ps:scale of
// an autoscaled type into its range (the count itself stays the autoscaler's to pick).
import type { AppRow, AppsStore } from '../state/apps-store.ts';
import type { AuditStore } from '../state/audit-store.ts';
import type { AutoscaleRow, AutoscaleStore } from '../state/autoscale-store.ts';
import type { FormationUpdate } from '../releases/formation.ts';
import { BerthError, badRequest, notFound } from '../shared/errors.ts';
import { checkProcessType } from '../shared/validation.ts';
import type { Formation } from '../wire/types.ts';
import type { AutoscaleAnswer, AutoscaleSetting, AutoscaledFormation } from '../wire/autoscale.ts';
import { AUTOSCALE_ACTION, AUTOSCALER_ACTOR } from './controller.ts';
import { parseAutoscaleBody } from './settings.ts';
import { describeLoad } from './decide.ts';

const DECISIONS_SHOWN = 20;

export interface AutoscaleServiceDeps {
  store: AutoscaleStore;
  apps: AppsStore;
  audit: AuditStore;
  maxInstances: number;
  /** The settings changed: the controller re-reads which apps' requests it counts. */
  changed: () => void;
  /** What the controller last decided for a type, as a phrase. */
  state: (appId: number, process: string) => string | null;
}

export class AutoscaleService {
  private readonly d: AutoscaleServiceDeps;
  constructor(deps: AutoscaleServiceDeps) { this.d = deps; }

  show(app: AppRow): AutoscaleAnswer {
    const decisions = this.d.audit.list({ app: app.name, actor: AUTOSCALER_ACTOR, limit: DECISIONS_SHOWN })
      .filter((e) => e.action === AUTOSCALE_ACTION)
      .map((e) => ({ at: e.at, process: e.target, status: e.status, detail: e.detail }));
    return { app: app.name, settings: this.d.store.list(app.id).map((row) => this.view(app, row)), decisions };
  }

  set(app: AppRow, type: unknown, body: Record<string, unknown>, actor: string): AutoscaleSetting {
    const process = this.knownType(app, type);
    this.d.store.set(app.id, process, parseAutoscaleBody(body, this.d.maxInstances), actor);
    this.d.changed();
    return this.view(app, this.d.store.find(app.id, process)!);
  }

  off(app: AppRow, type: unknown): void {
    const process = checkProcessType(type);
    if (!this.d.store.remove(app.id, process)) throw notFound(`${process} of ${app.name} is not autoscaled.`);
    this.d.changed();
  }

  /**
   * ps:scale TYPE=N of an autoscaled type sets its minimum to N (the maximum rises to N if below): the count
   * becomes at least N at once and the autoscaler keeps choosing within the range. Returns the updates to
   * run and, per type, the range to store once they ran.
   */
  manualScale(app: AppRow, updates: FormationUpdate[]): { updates: FormationUpdate[]; ranges: Map<string, { min: number; max: number }> } {
    const ranges = new Map<string, { min: number; max: number }>();
    if (!Array.isArray(updates)) return { updates, ranges };
    const formation = this.d.apps.formation(app.id);
    const next = updates.map((update) => {
      const row = typeof update?.type === 'string' && update.quantity !== undefined ? this.d.store.find(app.id, update.type) : undefined;
      if (!row) return update;
      const asked = update.quantity;
      if (!Number.isInteger(asked) || (asked as number) < 1 || (asked as number) > this.d.maxInstances) {
        throw new BerthError(422, 'autoscaled', `${row.process} is autoscaled (${row.min}-${row.max}): ps:scale sets its minimum, ` +
          `a whole number from 1 to ${this.d.maxInstances}. To scale by hand, turn autoscaling off: berth ps:autoscale ${app.name} ${row.process} --off.`);
      }
      const range = { min: asked as number, max: Math.max(row.max, asked as number) };
      ranges.set(row.process, range);
      const current = formation.find((f) => f.type === row.process)?.quantity ?? range.min;
      return { ...update, quantity: Math.min(range.max, Math.max(range.min, current)) };
    });
    return { updates: next, ranges };
  }

  storeRanges(app: AppRow, ranges: Map<string, { min: number; max: number }>, actor: string): void {
    for (const [process, range] of ranges) this.d.store.setRange(app.id, process, range.min, range.max, actor);
  }

  /** The formation as the API shows it, autoscaled types with their range. */
  annotate(app: AppRow, formation: Formation[]): AutoscaledFormation[] {
    const rows = this.d.store.list(app.id);
    return formation.map((f) => {
      const row = rows.find((r) => r.process === f.type);
      return row ? { ...f, autoscale: { min: row.min, max: row.max } } : f;
    });
  }

  /** An app was destroyed: its settings go with it (the rows cascade; this also forgets the controller's samples). */
  appDestroyed(appId: number): void {
    this.d.store.remove(appId);
    this.d.changed();
  }

  private knownType(app: AppRow, type: unknown): string {
    const process = checkProcessType(type);
    const formation = this.d.apps.formation(app.id);
    if (!formation.some((f) => f.type === process)) {
      throw badRequest('invalid_process_type', `No process type "${process}" (known: ${formation.map((f) => f.type).join(', ') || 'none yet'}).`);
    }
    return process;
  }

  private view(app: AppRow, row: AutoscaleRow): AutoscaleSetting {
    return {
      process: row.process, min: row.min, max: row.max, signal: row.signal, target: row.target,
      targetText: describeLoad(row.signal, row.target), cooldownSec: row.cooldownMs / 1000, state: this.d.state(app.id, row.process),
      current: this.d.apps.formation(app.id).find((f) => f.type === row.process)?.quantity ?? null,
      lastChangeAt: row.lastChangeAt === null ? null : new Date(row.lastChangeAt).toISOString(),
      updatedBy: row.updatedBy, updatedAt: row.updatedAt,
    };
  }
}
