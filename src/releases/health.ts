// The gate a new instance must pass before the router sends it traffic: an HTTP GET on its port that
// answers 2xx/3xx. Fails fast when the container dies instead of waiting out the whole timeout. A failure says
// what was asked, what came back and for how long; describeFailure adds what the process itself said.
import type { LogLine } from '../runtime/types.ts';

export interface HealthCheck {
  host: string;
  port: number;
  path: string;
  timeoutMs: number;
  /** Returns a reason when the instance is known dead (exited, crash-looping), else null. */
  deadReason: () => Promise<string | null>;
  /** Aborted: stop asking (the change no longer needs this instance). */
  signal?: AbortSignal;
}

const REQUEST_TIMEOUT_MS = 2000;
/** Asking the runtime whether the instance died is costlier than a GET: at most this often. */
export const DEAD_CHECK_MS = 1000;

/**
 * The pause before the next GET: an app typically listens a few hundred ms after its container starts, and every
 * ms between that and the GET that sees it is added to the deploy. So the first pauses are short, growing to 200 ms
 * for apps that take longer (a refused connection on loopback costs next to nothing).
 */
export function pollDelayMs(attempt: number): number {
  return Math.min(200, 20 + 10 * attempt);
}

export async function waitHealthy(check: HealthCheck): Promise<void> {
  const deadline = Date.now() + check.timeoutMs;
  const url = `http://${check.host}:${check.port}${check.path}`;
  let lastProblem = 'no answer yet';
  let nextDeadCheck = Date.now() + DEAD_CHECK_MS;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    check.signal?.throwIfAborted();
    const problem = await probeOnce(url);
    if (problem === null) return;
    lastProblem = problem;
    if (Date.now() >= nextDeadCheck) {
      const dead = await check.deadReason();
      if (dead) throw new Error(dead);
      nextDeadCheck = Date.now() + DEAD_CHECK_MS;
    }
    await new Promise((r) => setTimeout(r, pollDelayMs(attempt)));
  }
  throw new Error(`GET ${url} → ${lastProblem}; no good answer in ${Math.round(check.timeoutMs / 1000)} s`);
}

/** One GET of the health check: null when it answered 2xx/3xx, else what went wrong. */
export async function probeOnce(url: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 400 ? null : `answered ${res.status}`;
  } catch (err) {
    // fetch wraps the socket error (ECONNREFUSED, ...) in a generic "fetch failed": show the cause.
    const { message, cause } = err as Error & { cause?: Error & { code?: string } };
    return cause?.code === 'ECONNREFUSED' ? 'connection refused' : (cause?.message ?? message);
  }
}

/** Lines of the failing instance's own output kept in the push output and the release's failure reason. */
export const FAILURE_LINES = 30;

/**
 * What the failed instance tells about why: whether it listened on PORT at all (and where it did instead),
 * and its last lines of output. Each note is a line of its own after the health check's message.
 */
export function describeFailure(port: number | null, listening: number[] | null, lines: string[]): string {
  const notes: string[] = [];
  if (port !== null && listening && !listening.includes(port)) {
    notes.push(`The process never listened on PORT ${port}` + (listening.length
      ? `; it listens on ${listening.join(', ')}: make it listen on the port in $PORT.`
      : ' (nor on any other TCP port).'));
  }
  if (lines.length) notes.push(`The process printed (last ${lines.length} line${lines.length === 1 ? '' : 's'}):`, ...lines.map((l) => `  ${l}`));
  else notes.push('The process printed nothing.');
  return notes.map((n) => `\n${n}`).join('');
}

/**
 * The last `count` lines of an instance's log. A stopped instance's log ends by itself; a running one's is
 * followed, so reading stops once it has been quiet a moment (bounded either way).
 */
export async function lastLines(read: (signal: AbortSignal) => AsyncIterable<LogLine>, count: number, quietMs = 300, maxMs = 3000): Promise<string[]> {
  const abort = new AbortController();
  const lines: string[] = [];
  // Opening the log can take a while on a busy engine: the first line gets longer than the pause after the last.
  let quiet = setTimeout(() => abort.abort(), maxMs / 2);
  const cap = setTimeout(() => abort.abort(), maxMs);
  try {
    for await (const line of read(abort.signal)) {
      lines.push(line.line);
      if (lines.length > count) lines.shift();
      clearTimeout(quiet);
      quiet = setTimeout(() => abort.abort(), quietMs);
    }
  } catch {
    // what was read before the log broke off is still worth showing
  } finally {
    clearTimeout(quiet);
    clearTimeout(cap);
  }
  return lines;
}
