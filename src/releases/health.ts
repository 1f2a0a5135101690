// The gate a new instance must pass before the router sends it traffic: an HTTP GET on its port that
// answers 2xx/3xx. Fails fast when the container dies instead of waiting out the whole timeout.
export interface HealthCheck {
  host: string;
  port: number;
  path: string;
  timeoutMs: number;
  /** Returns a reason when the instance is known dead (exited, crash-looping), else null. */
  deadReason: () => Promise<string | null>;
}

const REQUEST_TIMEOUT_MS = 2000;
const POLL_MS = 200;

export async function waitHealthy(check: HealthCheck): Promise<void> {
  const deadline = Date.now() + check.timeoutMs;
  const url = `http://${check.host}:${check.port}${check.path}`;
  let lastProblem = 'no answer yet';
  let polls = 0;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: 'manual' });
      await res.arrayBuffer();
      if (res.status >= 200 && res.status < 400) return;
      lastProblem = `GET ${check.path} answered ${res.status}`;
    } catch (err) {
      // fetch wraps the socket error (ECONNREFUSED, ...) in a generic "fetch failed": show the cause.
      const { message, cause } = err as Error & { cause?: Error };
      lastProblem = `GET ${check.path} failed: ${cause?.message ?? message}`;
    }
    // Asking the runtime is costlier than a GET: do it every ~1 s.
    if (++polls % 5 === 0) {
      const dead = await check.deadReason();
      if (dead) throw new Error(dead);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`health check timed out after ${Math.round(check.timeoutMs / 1000)} s (${lastProblem})`);
}
