// A small typed client for Caddy's admin API (https://caddyserver.com/docs/api), over a unix socket
// (`unix:/run/berth/caddy-admin.sock`, what up.sh runs: no app or container can reach it) or, for
// older setups, TCP (`http://127.0.0.1:2019`). Every mutating call makes Caddy reload its config
// internally, so callers should send the smallest targeted change they can.
import http from 'node:http';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class CaddyAdminError extends Error {
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly caddyMessage: string;
  /** No answer because the connection failed (not a timeout): the request may or may not have been applied. */
  readonly connectionLost: boolean;

  constructor(method: string, path: string, status: number, caddyMessage: string, connectionLost = false) {
    super(`Caddy admin API ${method} ${path} failed (${status || 'no response'}): ${shorten(caddyMessage)}`);
    this.name = 'CaddyAdminError';
    this.method = method;
    this.path = path;
    this.status = status;
    this.caddyMessage = caddyMessage;
    this.connectionLost = connectionLost;
  }

  /** Caddy says "unknown object ID" (404) or "invalid traversal path" (400) for things that do not exist. */
  get isMissing(): boolean {
    return this.status === 404 || /invalid traversal path|unknown object ID/i.test(this.caddyMessage);
  }
}

export interface CaddyAdminClientOptions {
  /** Per-request limit; a config reload with many routes can take a while, hence generous. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** Where the admin API is: a unix socket, or host and port. */
type AdminEndpoint = { socketPath: string } | { host: string; port: number };

/** `unix:/path/to.sock` or `http://host:port`; anything else is a configuration error. */
export function parseAdminUrl(adminUrl: string): AdminEndpoint {
  if (adminUrl.startsWith('unix:')) {
    const socketPath = adminUrl.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!socketPath.startsWith('/')) throw new Error(`Caddy admin socket must be an absolute path: ${adminUrl}`);
    return { socketPath };
  }
  const url = new URL(adminUrl);
  if (url.protocol !== 'http:') throw new Error(`Caddy admin API must be unix:/path or http://host:port, got ${adminUrl}`);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) || 80 };
}

/** Caddy's admin.listen for the address we reach it on: unix//path or host:port. */
export function adminListenAddress(adminUrl: string): string {
  const endpoint = parseAdminUrl(adminUrl);
  if ('socketPath' in endpoint) return `unix/${endpoint.socketPath}`;
  return `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}

export class CaddyAdminClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #endpoint: AdminEndpoint;

  constructor(baseUrl: string, options: CaddyAdminClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#endpoint = parseAdminUrl(this.baseUrl);
  }

  /** GET /config/<path> or /id/<path>. Missing keys inside existing objects come back as null. */
  get<T = Json>(path: string): Promise<T> {
    return this.request('GET', path) as Promise<T>;
  }

  /** Like get(), but a path or @id that does not exist yields null instead of an error. */
  async getOrNull<T = Json>(path: string): Promise<T | null> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof CaddyAdminError && err.isMissing) return null;
      throw err;
    }
  }

  /** Sets or replaces an object key; appends to an array. */
  async post(path: string, body: unknown): Promise<void> {
    await this.request('POST', path, body);
  }

  /** Creates a new object key; inserts into an array at the given index. */
  async put(path: string, body: unknown): Promise<void> {
    await this.request('PUT', path, body);
  }

  /** Replaces an existing value in place. */
  async patch(path: string, body: unknown): Promise<void> {
    await this.request('PATCH', path, body);
  }

  async delete(path: string): Promise<void> {
    await this.request('DELETE', path);
  }

  /** Deletes; returns false instead of failing when the thing is already gone. */
  async deleteIfExists(path: string): Promise<boolean> {
    try {
      await this.delete(path);
      return true;
    } catch (err) {
      if (err instanceof CaddyAdminError && err.isMissing) return false;
      throw err;
    }
  }

  /** Replaces the whole config. Only for a Caddy that has nothing configured yet. */
  async load(config: unknown): Promise<void> {
    await this.request('POST', '/load', config);
  }

  private async request(method: string, path: string, body?: unknown): Promise<Json> {
    const target = path.startsWith('/') ? path : `/${path}`;
    let res: { status: number; text: string };
    try {
      res = await this.#send(method, target, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const message = timedOut ? `no answer within ${this.timeoutMs} ms` : `cannot reach Caddy: ${causeOf(err)}`;
      throw new CaddyAdminError(method, path, 0, message, !timedOut);
    }
    if (res.status < 200 || res.status >= 300) throw new CaddyAdminError(method, path, res.status, caddyErrorMessage(res.text));
    return res.text.trim() === '' ? null : (JSON.parse(res.text) as Json);
  }

  #send(method: string, path: string, body: string | undefined): Promise<{ status: number; text: string }> {
    const unix = 'socketPath' in this.#endpoint;
    return new Promise((resolve, reject) => {
      const req = http.request({
        ...this.#endpoint, method, path, agent: false,
        // Over a unix socket Caddy accepts only an empty Host (2.6; later versions also 127.0.0.1 and ::1).
        setHost: !unix,
        headers: {
          ...(unix ? { host: '' } : {}),
          // Caddy restarts its admin server on every config change, closing idle connections;
          // a pooled connection could then fail the next request, so use a fresh one each time.
          connection: 'close',
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
        },
        signal: AbortSignal.timeout(this.timeoutMs),
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { text += chunk; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** Caddy's errors can list every managed domain; keep the Error message readable (caddyMessage stays whole). */
function shorten(message: string, max = 600): string {
  return message.length <= max ? message : `${message.slice(0, max)}… (${message.length - max} more characters)`;
}

function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? err.cause.message : err.message;
}

/** Caddy answers errors as {"error": "..."}; fall back to the raw text. */
function caddyErrorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: use the text as is
  }
  return text.trim() || '(empty response)';
}
