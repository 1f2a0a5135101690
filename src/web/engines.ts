// What the terminal and the live events need from whatever runs instances: the scheduler fleet
// (src/scheduler/schedulers.ts) finds the scheduler of each instance, and the scheduler its engine or node.
import type { ExecOptions, ExecSession, Instance, RuntimeEvent } from '../runtime/types.ts';

export interface EngineAccess {
  exec(instance: Instance, opts: ExecOptions): Promise<ExecSession>;
  events(signal: AbortSignal): AsyncIterable<RuntimeEvent>;
}
