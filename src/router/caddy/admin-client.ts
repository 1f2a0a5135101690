// A small typed client for Caddy's admin API (https://caddyserver.com/docs/api).
// Every mutating call makes Caddy reload its config internally, so callers should
// send the smallest targeted change they can.

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

export class CaddyAdminClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;

  constructor(baseUrl: string, options: CaddyAdminClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
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
    const url = this.baseUrl + (path.startsWith('/') ? path : `/${path}`);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        // Caddy restarts its admin server on every config change, closing idle connections;
        // a pooled connection could then fail the next request, so use a fresh one each time.
        headers: body === undefined ? { Connection: 'close' } : { Connection: 'close', 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const message = timedOut ? `no answer within ${this.timeoutMs} ms` : `cannot reach Caddy: ${causeOf(err)}`;
      throw new CaddyAdminError(method, path, 0, message, !timedOut);
    }
    const text = await res.text();
    if (!res.ok) throw new CaddyAdminError(method, path, res.status, caddyErrorMessage(text));
    return text.trim() === '' ? null : (JSON.parse(text) as Json);
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
