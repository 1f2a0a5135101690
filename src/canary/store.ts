// Canaries in SQLite: each app's latest canary, and apps:canary's plan for the app's pushes.
import type Database from 'better-sqlite3';
import type { CanaryPlan } from './plan.ts';
import type { Comparison } from './analysis.ts';

export type CanaryState = 'running' | 'promoted' | 'aborted';

export interface Canary {
  appId: number;
  version: number;
  state: CanaryState;
  plan: CanaryPlan;
  step: number;
  weight: number;
  stepStartedAt: number;
  comparison: Comparison | null;
  reason: string | null;
  startedBy: string;
  startedAt: string;
  finishedAt: string | null;
}

interface Row {
  app_id: number; version: number; state: CanaryState; plan: string; step: number; weight: number; step_started_at: number;
  comparison: string | null; reason: string | null; started_by: string; started_at: string; finished_at: string | null;
}

const fromRow = (r: Row): Canary => ({
  appId: r.app_id, version: r.version, state: r.state, plan: JSON.parse(r.plan) as CanaryPlan, step: r.step, weight: r.weight,
  stepStartedAt: r.step_started_at, comparison: r.comparison ? JSON.parse(r.comparison) as Comparison : null, reason: r.reason,
  startedBy: r.started_by, startedAt: r.started_at, finishedAt: r.finished_at,
});

export class CanaryStore {
  private readonly sqlite: Database.Database;
  constructor(sqlite: Database.Database) { this.sqlite = sqlite; }

  /** The app's latest canary, whatever its state. */
  latest(appId: number): Canary | undefined {
    const row = this.sqlite.prepare('SELECT * FROM canaries WHERE app_id = ?').get(appId) as Row | undefined;
    return row && fromRow(row);
  }

  running(appId: number): Canary | undefined {
    const canary = this.latest(appId);
    return canary?.state === 'running' ? canary : undefined;
  }

  allRunning(): Canary[] {
    return (this.sqlite.prepare("SELECT * FROM canaries WHERE state = 'running'").all() as Row[]).map(fromRow);
  }

  start(c: Pick<Canary, 'appId' | 'version' | 'plan' | 'weight' | 'startedBy'>, nowMs: number): Canary {
    this.sqlite.prepare(`INSERT OR REPLACE INTO canaries (app_id, version, state, plan, step, weight, step_started_at, comparison, reason, started_by, started_at, finished_at)
      VALUES (?, ?, 'running', ?, 0, ?, ?, NULL, NULL, ?, ?, NULL)`)
      .run(c.appId, c.version, JSON.stringify(c.plan), c.weight, nowMs, c.startedBy, new Date(nowMs).toISOString());
    return this.latest(c.appId)!;
  }

  setStep(appId: number, step: number, weight: number, nowMs: number): void {
    this.sqlite.prepare("UPDATE canaries SET step = ?, weight = ?, step_started_at = ? WHERE app_id = ? AND state = 'running'").run(step, weight, nowMs, appId);
  }

  setComparison(appId: number, comparison: Comparison): void {
    this.sqlite.prepare("UPDATE canaries SET comparison = ? WHERE app_id = ? AND state = 'running'").run(JSON.stringify(comparison), appId);
  }

  finish(appId: number, state: 'promoted' | 'aborted', reason: string | null, nowMs: number): void {
    this.sqlite.prepare("UPDATE canaries SET state = ?, reason = ?, finished_at = ? WHERE app_id = ? AND state = 'running'")
      .run(state, reason, new Date(nowMs).toISOString(), appId);
  }

  /** apps:canary: the plan the app's pushes start canaries with; null: pushes deploy directly. */
  pushPlan(appId: number): CanaryPlan | null {
    const row = this.sqlite.prepare('SELECT plan FROM canary_settings WHERE app_id = ?').get(appId) as { plan: string } | undefined;
    return row ? JSON.parse(row.plan) as CanaryPlan : null;
  }

  setPushPlan(appId: number, plan: CanaryPlan | null): void {
    if (plan === null) this.sqlite.prepare('DELETE FROM canary_settings WHERE app_id = ?').run(appId);
    else this.sqlite.prepare('INSERT OR REPLACE INTO canary_settings (app_id, plan) VALUES (?, ?)').run(appId, JSON.stringify(plan));
  }
}
