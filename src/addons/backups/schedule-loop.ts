// The thin timer behind backup schedules: every tick asks the engine to run what is due (the decision is
// schedule.ts's). One tick at a time; the timer never keeps the process alive.
import type { AddonBackups } from './engine.ts';

export const DEFAULT_TICK_MS = 30_000;

export function startScheduleLoop(backups: AddonBackups, tickMs: number, log: (line: string) => void): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    backups.runDue(new Date())
      .catch((err: unknown) => log(`backups: the schedule tick failed: ${(err as Error).message}`))
      .finally(() => { running = false; });
  }, tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
