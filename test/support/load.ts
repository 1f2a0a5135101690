// A bounded load through the router with autocannon: starts at once, ends when stopped or after maxSec,
// and reports every answer that was not a 2xx and every broken request (errors, timeouts).
import autocannon, { type Result } from 'autocannon';

export interface LoadReport { requests: number; ok: number; non2xx: number; errors: number; timeouts: number }
export interface Load { startedAt: number; stop(): Promise<LoadReport> }

export function startLoad(opts: { port: number; host: string; rate: number; connections?: number; maxSec: number }): Load {
  let finish!: (report: LoadReport) => void;
  const done = new Promise<LoadReport>((resolve) => { finish = resolve; });
  const instance = autocannon({
    url: `http://127.0.0.1:${opts.port}/`, headers: { host: opts.host }, connections: opts.connections ?? 4,
    overallRate: opts.rate, duration: opts.maxSec, timeout: 10,
  }, (err: Error | null, result: Result) => {
    if (err) finish({ requests: 0, ok: 0, non2xx: 0, errors: 1, timeouts: 0 });
    else finish({ requests: result.requests.total, ok: result['2xx'], non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts });
  });
  return { startedAt: Date.now(), stop: () => { instance.stop(); return done; } };
}
