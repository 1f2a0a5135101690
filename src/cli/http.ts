// Minimal HTTP transport on node:http. Not fetch: undici's 300 s headers/body timeouts would cut off
// a long deploy (the API answers only once the release is live) and a quiet `logs --tail`.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

/** The server could not be reached at all (refused, DNS, reset before an answer). */
export class NetworkError extends Error {
  name = 'NetworkError';
  url: string;
  constructor(url: string, cause: unknown, problem = 'cannot reach') {
    super(`${problem} the Berth API at ${url} (${describeCause(cause)})`);
    this.url = url;
  }
}

function describeCause(cause: unknown): string {
  const error = cause as NodeJS.ErrnoException | undefined;
  return error?.code ?? error?.message ?? String(cause);
}

export interface RequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** Sends one request and resolves with the response once its headers arrived. */
export function openRequest(url: URL, options: RequestOptions): Promise<http.IncomingMessage> {
  const transport = url.protocol === 'https:' ? https : http;
  const headers = { ...options.headers };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const request = transport.request(url, { method: options.method, headers }, resolve);
    request.on('error', (error) => reject(new NetworkError(url.origin, error)));
    request.end(options.body);
  });
}

/** Sends a streamed body of `size` bytes (a backup archive) and resolves with the response once its headers arrived. */
export function openUpload(url: URL, options: { method: string; headers: Record<string, string>; body: Readable; size: number }): Promise<http.IncomingMessage> {
  const transport = url.protocol === 'https:' ? https : http;
  const headers = { ...options.headers, 'content-type': 'application/x-tar', 'content-length': String(options.size) };
  return new Promise((resolve, reject) => {
    const request = transport.request(url, { method: options.method, headers }, resolve);
    request.on('error', (error) => reject(new NetworkError(url.origin, error)));
    options.body.on('error', (error) => request.destroy(error));
    options.body.pipe(request);
  });
}

export async function readText(response: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
