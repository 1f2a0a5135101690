// Requests through the router at a steady pace while something breaks (a node drained or cut off): one is started
// every 100 ms whatever the others do, each with the router client's 10 s timeout, as independent clients would;
// one that hangs on a dead machine does not hold back the next. At most 200 are in flight (bounded). Each failed
// one is kept with when it was sent and when it failed, so a test can say from when on nothing failed.
import { viaRouter } from './berth.ts';

export interface FailedRequest { sent: number; at: number; why: string }

export interface PacedRequests {
  failures: FailedRequest[];
  /** Requests started so far. */
  total(): number;
  /** Answered with 200 so far. */
  succeeded(): number;
  /** Stops starting requests and waits for those in flight. */
  stop(): Promise<void>;
}

const PACE_MS = 100;
const MAX_IN_FLIGHT = 200;

export function pacedRequests(httpPort: number, hostname: string): PacedRequests {
  const failures: FailedRequest[] = [];
  const inFlight = new Set<Promise<void>>();
  let total = 0;
  let succeeded = 0;
  let running = true;
  const one = async () => {
    const sent = Date.now();
    try {
      const res = await viaRouter(httpPort, hostname);
      if (res.status === 200) succeeded++;
      else failures.push({ sent, at: Date.now(), why: `HTTP ${res.status}` });
    } catch (err) {
      failures.push({ sent, at: Date.now(), why: (err as Error).message });
    }
  };
  const loop = (async () => {
    while (running) {
      if (inFlight.size < MAX_IN_FLIGHT) {
        total++;
        const request = one().finally(() => inFlight.delete(request));
        inFlight.add(request);
      }
      await new Promise((r) => setTimeout(r, PACE_MS));
    }
    await Promise.all(inFlight);
  })();
  return { failures, total: () => total, succeeded: () => succeeded, stop: async () => { running = false; await loop; } };
}

/** "3 × request timed out, sent +0.1–0.4 s, failed +10.1–10.4 s; ..." per reason, times from `since`. */
export function describeFailures(failures: FailedRequest[], since: number): string {
  const s = (ms: number) => ((ms - since) / 1000).toFixed(1);
  return [...new Set(failures.map((f) => f.why))].map((why) => {
    const some = failures.filter((f) => f.why === why);
    const sent = some.map((f) => f.sent);
    const at = some.map((f) => f.at);
    return `${some.length} × ${why}, sent +${s(Math.min(...sent))}–${s(Math.max(...sent))} s, failed +${s(Math.min(...at))}–${s(Math.max(...at))} s`;
  }).join('; ');
}
