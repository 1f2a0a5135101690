// A streaming GET on the API server (followed pod logs), with plain node:https so that every way the stream
// can end — the container stopped, the connection broke, the caller aborted — ends the returned Readable.
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Cluster } from './client.ts';

export class StreamError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Resolves with the response body once the server answered 200; rejects with its message otherwise. */
export async function streamGet(cluster: Cluster, path: string, query: Record<string, string>, signal: AbortSignal, openTimeoutMs = 30_000): Promise<Readable> {
  const url = new URL(cluster.config.getCurrentCluster()!.server + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const options: https.RequestOptions = { method: 'GET', headers: {} };
  await cluster.config.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ...options, signal }, (res: IncomingMessage) => {
      clearTimeout(timer);
      if (res.statusCode === 200) return resolve(res);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { if (body.length < 4096) body += d; });
      res.on('end', () => reject(new StreamError(res.statusCode ?? 0, messageOf(body) ?? `HTTP ${res.statusCode}`)));
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`the API server did not answer GET ${path} within ${openTimeoutMs / 1000} s`)), openTimeoutMs);
    req.on('error', (err) => { clearTimeout(timer); reject(err); });
    req.end();
  });
}

function messageOf(body: string): string | null {
  try { return (JSON.parse(body) as { message?: string }).message ?? null; } catch { return body.trim() || null; }
}
