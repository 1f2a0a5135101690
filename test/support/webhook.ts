// A webhook endpoint on loopback for alert tests: records every POST (raw and parsed) and answers with
// the next queued status (200 when none is queued), or always with a redirect to `redirectTo`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Bodies as sent, in arrival order. */
  bodies: string[];
  /** The same bodies parsed as JSON (null for one that is not JSON). */
  received: any[];
  /** Statuses to answer with, first in first out. */
  statuses: number[];
  close(): Promise<void>;
}

export interface WebhookReceiverOptions {
  /** A loopback address to listen on (default 127.0.0.1), e.g. 127.0.0.2 for a second "host". */
  host?: string;
  /** Answer every POST with 302 to this URL. */
  redirectTo?: string;
}

export async function startWebhookReceiver(opts: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const host = opts.host ?? '127.0.0.1';
  const bodies: string[] = [];
  const received: any[] = [];
  const statuses: number[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      bodies.push(body);
      try { received.push(JSON.parse(body)); } catch { received.push(null); }
      if (opts.redirectTo) res.writeHead(302, { location: opts.redirectTo });
      else res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}/hook`;
  return { url, port, bodies, received, statuses, close: () => new Promise<void>((r) => server.close(() => r())) };
}
