// Read positions that survive a restart, in one small JSON file under the data dir. Saved (atomically,
// by rename) right after the store wrote the lines they point past, so after a crash a source is
// re-read from where the stored lines end: nothing is lost, nothing stored twice.
import fs from 'node:fs';

export class PositionFile<T> {
  private readonly file: string;
  private readonly positions: Map<string, T>;
  private dirty = false;

  constructor(file: string) {
    this.file = file;
    this.positions = new Map(Object.entries(readJson(file)) as Array<[string, T]>);
  }

  get(key: string): T | undefined {
    return this.positions.get(key);
  }

  set(key: string, position: T): void {
    this.positions.set(key, position);
    this.dirty = true;
  }

  /** Forgets every key not in `keep` (sources that are gone for good). */
  retain(keep: Set<string>): void {
    for (const key of this.positions.keys()) {
      if (!keep.has(key)) {
        this.positions.delete(key);
        this.dirty = true;
      }
    }
  }

  save(): void {
    if (!this.dirty) return;
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.positions)));
    fs.renameSync(tmp, this.file);
    this.dirty = false;
  }
}

function readJson(file: string): Record<string, unknown> {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8'));
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

/** Where a container's log was read up to: its newest engine time and how many lines carry exactly that time. */
export interface LogCursor { time: string; seen: number }

export function advanceCursor(cursor: LogCursor | undefined, time: string): LogCursor {
  if (cursor && cursor.time === time) return { time, seen: cursor.seen + 1 };
  if (cursor && cursor.time > time) return cursor;
  return { time, seen: 1 };
}

/**
 * Reopening a log at the cursor repeats lines: the engine's `since` is inclusive (and only to the second on
 * some engines). Lines older than the cursor are skipped, and of those at its exact time the `seen` first ones.
 */
export function skipRepeats(cursor: LogCursor | undefined): (time: string) => boolean {
  if (!cursor) return () => true;
  let repeatsLeft = cursor.seen;
  return (time) => {
    if (time < cursor.time) return false;
    if (time === cursor.time && repeatsLeft > 0) {
      repeatsLeft--;
      return false;
    }
    return true;
  };
}
