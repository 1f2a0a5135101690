// A webhook endpoint on loopback for alert tests: records every POST (raw and parsed) and answers with
// the next queued status (200 when none is queued).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  /** Bodies as sent, in arrival order. */
  bodies: string[];
  /** The same bodies parsed as JSON (null for one that is not JSON). */
  received: any[];
  /** Statuses to answer with, first in first out. */
  statuses: number[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const bodies: string[] = [];
  const received: any[] = [];
  const statuses: number[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      bodies.push(body);
      try { received.push(JSON.parse(body)); } catch { received.push(null); }
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, bodies, received, statuses, close: () => new Promise<void>((r) => server.close(() => r())) };
}
