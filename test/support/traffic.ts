// Continuous traffic through the router while something happens (releases, a scheduler move): a few clients
// send GETs back to back on keep-alive connections, bounded in time, and every answer is counted.
import http from 'node:http';

export interface TrafficReport {
  total: number;
  /** Every non-200 answer or broken request, with what came back. */
  failures: string[];
  /** Requests retried once after a reused keep-alive connection was closed under them (see request()). */
  retried: number;
  /** What served the 200s, as `servedBy` read it from each body. */
  servedBy: Set<string>;
}

export interface TrafficOptions {
  port: number;
  host: string;
  clients?: number;
  /** Upper bound, whatever `during` does. */
  maxMs?: number;
  /** Names what answered, from a 200's body (e.g. the release). */
  servedBy?: (body: string) => string;
}

/** Runs `during` under traffic, then keeps the traffic up another half second and reports. */
export async function underTraffic(opts: TrafficOptions, during: () => Promise<void>): Promise<TrafficReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients ?? 4 });
  const report: TrafficReport = { total: 0, failures: [], retried: 0, servedBy: new Set() };
  const deadline = Date.now() + (opts.maxMs ?? 180_000);
  let stop = false;
  const clients = Array.from({ length: opts.clients ?? 4 }, async () => {
    while (!stop && Date.now() < deadline) {
      const res = await request(opts.port, opts.host, agent, report);
      report.total++;
      if (res.status !== 200) report.failures.push(`${res.status} ${res.body.slice(0, 120)}`);
      else if (opts.servedBy) report.servedBy.add(opts.servedBy(res.body));
    }
  });
  try {
    await during();
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    stop = true;
    await Promise.all(clients);
    agent.destroy();
  }
  return report;
}

/**
 * A first attempt that failed before any response byte on a reused pooled connection: it raced the close of an
 * idle one (Caddy closes them when its config changes). Like browsers and curl (RFC 9112 §9.3.1), the caller
 * retries it once, on a new connection: another pooled one may be closing under the same config change.
 */
export function racedIdleClose(req: http.ClientRequest, err: NodeJS.ErrnoException, responded: boolean, attempt: number): boolean {
  return !responded && attempt === 1 && req.reusedSocket && (err.code === 'ECONNRESET' || err.message === 'socket hang up');
}

/** What a failed request says: its error, and which connection and attempt it was on. */
export function failedAttempt(req: http.ClientRequest, err: Error, attempt: number): string {
  return `${err.message} (${req.reusedSocket ? 'reused' : 'new'} connection, attempt ${attempt})`;
}

/**
 * One GET through the router on a keep-alive connection, retried once (and counted) when it raced an idle
 * connection's close (racedIdleClose). Anything else (a 5xx, an error mid-response, a second failure) is a failure.
 */
function request(port: number, host: string, agent: http.Agent | false, report: TrafficReport, attempt = 1): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    let responded = false;
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 10_000 }, (res) => {
      responded = true;
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ status: 0, body: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (racedIdleClose(req, err, responded, attempt)) {
        report.retried++;
        resolve(request(port, host, false, report, 2));
      } else {
        resolve({ status: 0, body: failedAttempt(req, err, attempt) });
      }
    });
    req.end();
  });
}
