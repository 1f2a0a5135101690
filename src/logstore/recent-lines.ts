// `berth logs APP` without a time window: the last N lines of the app, as Heroku shows them — recent history,
// not only what live containers still hold. The engine's tail of its containers is merged with the log store's
// lines of the past day, so a failed deploy's instance (removed since) still shows what it printed.
import type { LogLine } from '../runtime/types.ts';
import type { LogStore } from './store.ts';
import { apiNdjson, type ApiLogLine } from './api-lines.ts';

/** How far back the store is read for the default view. */
export const RECENT_MS = 24 * 3_600_000;

const ROUTER_LINE = '"process":"router",';

export type RecentLine = Omit<LogLine, 'app'> | ApiLogLine;

export interface RecentQuery {
  tail: number;
  process?: string;
  instance?: string;
  /** ms: no stored line before this (the app's creation). */
  notBefore?: number;
}

/** The last `tail` lines, time ordered; a line both sources hold (same ms, instance and text) appears once. */
export async function recentLines(engine: AsyncIterable<LogLine>, store: LogStore, app: string, query: RecentQuery, now: number): Promise<RecentLine[]> {
  if (query.tail === 0) return [];
  const stored = await lastStored(store, app, query, now);
  const seen = new Set(stored.map(lineKey));
  const merged: RecentLine[] = [...stored];
  for await (const line of engine) {
    const { app: _app, ...rest } = line;
    if (!seen.has(lineKey(rest))) merged.push(rest);
  }
  // Stable: lines of the same millisecond keep their order.
  return merged.map((line, at) => ({ line, at, ms: Date.parse(line.time) }))
    .sort((a, b) => a.ms - b.ms || a.at - b.at).slice(-query.tail).map((x) => x.line);
}

async function lastStored(store: LogStore, app: string, query: RecentQuery, now: number): Promise<ApiLogLine[]> {
  const ring: string[] = [];
  for await (const chunk of apiNdjson(store.read(app, { since: Math.max(now - RECENT_MS, query.notBefore ?? 0), process: query.process, instance: query.instance }))) {
    for (const text of chunk.toString('utf8').split('\n')) {
      // The router's access lines are searched with --since/--grep; the default view is the app's own output.
      if (!text || (!query.process && text.includes(ROUTER_LINE))) continue;
      ring.push(text);
      if (ring.length > query.tail) ring.shift();
    }
  }
  return ring.map((text) => JSON.parse(text) as ApiLogLine);
}

function lineKey(line: { time: string; process: string; index: number | null; line: string }): string {
  return `${Math.trunc(Date.parse(line.time))} ${line.process}.${line.index ?? ''} ${line.line}`;
}
