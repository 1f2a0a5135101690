// What the terminal and the live events need from whatever runs instances: the scheduler fleet
// (src/scheduler/schedulers.ts) finds the scheduler, and with several Docker engines the engine, of each instance.
import type { ExecOptions, ExecSession, Instance, RuntimeEvent } from '../runtime/types.ts';

export interface EngineAccess {
  exec(instance: Instance, opts: ExecOptions): Promise<ExecSession>;
  events(signal: AbortSignal): AsyncIterable<RuntimeEvent>;
}
