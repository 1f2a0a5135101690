// One log stream from several hosts: without follow, every host's tail merged by time and cut to the
// tail length again; with follow, the history the same way, then lines as they arrive from any host.
import type { LogLine, LogOptions } from '../types.ts';

export async function* mergeLogs(sources: AsyncIterable<LogLine>[], opts: LogOptions): AsyncIterable<LogLine> {
  if (!opts.follow) {
    const all = (await Promise.all(sources.map(collect))).flat();
    all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    yield* all.slice(Math.max(0, all.length - opts.tail));
    return;
  }
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const next = (i: number) => iterators[i].next().then((result) => ({ i, result }));
  const pending = new Map(iterators.map((_, i) => [i, next(i)]));
  try {
    while (pending.size) {
      const { i, result } = await Promise.race(pending.values());
      if (result.done) { pending.delete(i); continue; }
      pending.set(i, next(i));
      yield result.value;
    }
  } finally {
    await Promise.all(iterators.map((it) => it.return?.().catch(() => {})));
  }
}

async function collect(source: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  try {
    for await (const line of source) lines.push(line);
  } catch {
    // A host that cannot be read gives no lines rather than failing everyone's logs.
  }
  return lines;
}
