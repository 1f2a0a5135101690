// Several event streams (engines, schedulers) as one, in arrival order.
import type { RuntimeEvent } from '../runtime/types.ts';

/** Interleaves several event streams as events arrive; ends when all have ended or the signal aborts. */
export async function* mergeEvents(sources: AsyncIterable<RuntimeEvent>[], signal: AbortSignal): AsyncIterable<RuntimeEvent> {
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
