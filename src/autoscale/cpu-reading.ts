// The CPU signal: the metrics collector's newest 10 s reading of a process type's instances, averaged.
import type Database from 'better-sqlite3';
import { STEP_SEC } from '../metrics/store.ts';

export function latestCpu(sqlite: Database.Database): (app: string, process: string) => { at: number; value: number } | null {
  const newest = sqlite.prepare(`SELECT max(ts) AS ts FROM metric_instance_points WHERE app = ? AND res = ${STEP_SEC}`);
  const points = sqlite.prepare(`SELECT instance, cpu FROM metric_instance_points WHERE app = ? AND res = ${STEP_SEC} AND ts = ?`);
  return (app, process) => {
    const { ts } = newest.get(app) as { ts: number | null };
    if (ts === null) return null;
    const values = (points.all(app, ts) as { instance: string; cpu: number | null }[])
      .filter((p) => p.instance.replace(/\.\d+$/, '') === process && p.cpu !== null).map((p) => p.cpu!);
    if (!values.length) return null;
    // A point in bucket ts describes the 10 s up to the round that wrote it, just after ts + 10 s.
    return { at: (ts + STEP_SEC) * 1000, value: values.reduce((a, b) => a + b, 0) / values.length };
  };
}
