// Build output kept for the web console: lines of running builds in memory (so a browser can follow
// them live), and each build's whole log in <dataDir>/builds/<id>.log for later. Only the logs of the
// builds `keep` names (the last KEEP_BUILD_LOGS_PER_APP of each app) stay: the rest, and a destroyed
// app's, are deleted after every build and on prune().
import fs from 'node:fs';
import path from 'node:path';

interface RunningBuild { lines: string[]; done: boolean; wake: Set<() => void>; file: fs.WriteStream }

export interface BuildLogWriter { line(text: string): void; finish(): void }

export const KEEP_BUILD_LOGS_PER_APP = 20;

export interface BuildLogOptions {
  /** The ids of the builds whose logs are kept; without it, every log is kept. */
  keep?: () => Iterable<number>;
  log?: (line: string) => void;
}

export class BuildLogStore {
  private readonly dir: string;
  private readonly running = new Map<number, RunningBuild>();
  private readonly opts: BuildLogOptions;

  constructor(dataDir: string, opts: BuildLogOptions = {}) {
    this.dir = path.join(dataDir, 'builds');
    this.opts = opts;
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** Deletes the logs of builds that are neither kept nor running; returns how many. */
  prune(): number {
    if (!this.opts.keep) return 0;
    const keep = new Set(this.opts.keep());
    let removed = 0;
    for (const file of fs.readdirSync(this.dir)) {
      const m = /^(\d+)\.log$/.exec(file);
      if (!m || keep.has(Number(m[1])) || this.running.has(Number(m[1]))) continue;
      try { fs.rmSync(path.join(this.dir, file), { force: true }); removed++; } catch (err) {
        this.opts.log?.(`could not delete the build log ${file}: ${(err as Error).message}`);
      }
    }
    return removed;
  }

  private fileFor(id: number): string { return path.join(this.dir, `${id}.log`); }

  open(id: number): BuildLogWriter {
    const build: RunningBuild = { lines: [], done: false, wake: new Set(), file: fs.createWriteStream(this.fileFor(id), { flags: 'a' }) };
    build.file.on('error', () => {}); // a full disk must not fail the build; the in-memory lines still serve followers
    this.running.set(id, build);
    const wakeAll = () => { for (const wake of build.wake) wake(); build.wake.clear(); };
    return {
      line: (text) => {
        if (build.done) return;
        build.lines.push(text);
        build.file.write(`${text}\n`);
        wakeAll();
      },
      finish: () => {
        if (build.done) return;
        build.done = true;
        build.file.end();
        this.running.delete(id);
        wakeAll();
        try { this.prune(); } catch (err) { this.opts.log?.(`pruning build logs: ${(err as Error).message}`); }
      },
    };
  }

  isRunning(id: number): boolean { return this.running.has(id); }

  /** Every line so far, then (while the build runs) each new one until it ends or the signal aborts. */
  async *follow(id: number, signal: AbortSignal): AsyncIterable<string> {
    const build = this.running.get(id);
    if (!build) {
      yield* this.readFinished(id);
      return;
    }
    let next = 0;
    while (!signal.aborted) {
      while (next < build.lines.length) yield build.lines[next++];
      if (build.done) return;
      await new Promise<void>((resolve) => {
        build.wake.add(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  private *readFinished(id: number): Iterable<string> {
    let text: string;
    try { text = fs.readFileSync(this.fileFor(id), 'utf8'); } catch { return; }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    yield* lines;
  }
}
