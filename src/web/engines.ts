// The terminal and the live events reach the engine that runs an instance: with one engine that is the
// runtime itself; with several (MultiHostRuntime) the per-host DockerRuntime found by the instance's hostName.
import type { ExecOptions, ExecSession, Instance, Runtime, RuntimeEvent } from '../runtime/types.ts';

export interface EngineAccess {
  exec(instance: Instance, opts: ExecOptions): Promise<ExecSession>;
  events(signal: AbortSignal): AsyncIterable<RuntimeEvent>;
}

/** What MultiHostRuntime offers about its hosts (its public methods), without depending on its module. */
interface HostedRuntime { host(name: string): { runtime: Runtime; up: boolean } | undefined; allHosts(): { runtime: Runtime; up: boolean }[] }

const isHosted = (runtime: Runtime): runtime is Runtime & HostedRuntime =>
  typeof (runtime as Partial<HostedRuntime>).host === 'function' && typeof (runtime as Partial<HostedRuntime>).allHosts === 'function';

export function engineAccess(runtime: Runtime): EngineAccess {
  const engineOf = (instance: Instance): Runtime => (isHosted(runtime) ? runtime.host(instance.hostName ?? 'local')?.runtime : runtime) ?? runtime;
  const engines = (): Runtime[] => (isHosted(runtime) ? runtime.allHosts().filter((h) => h.up).map((h) => h.runtime) : [runtime]);
  return {
    exec: (instance, opts) => {
      const engine = engineOf(instance);
      if (!engine.exec) throw new Error(`the engine running ${instance.name} offers no terminal`);
      return engine.exec(instance.id, opts);
    },
    events: (signal) => mergeEvents(engines().filter((e) => e.events).map((e) => e.events!(signal)), signal),
  };
}

/** Interleaves several event streams as events arrive; ends when all have ended. */
async function* mergeEvents(sources: AsyncIterable<RuntimeEvent>[], signal: AbortSignal): AsyncIterable<RuntimeEvent> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<RuntimeEvent> }>>();
  const pull = (i: number) => pending.set(i, iterators[i].next().then((r) => ({ i, r })));
  iterators.forEach((_, i) => pull(i));
  while (pending.size && !signal.aborted) {
    const { i, r } = await Promise.race(pending.values());
    if (r.done) { pending.delete(i); continue; }
    pull(i);
    yield r.value;
  }
}
