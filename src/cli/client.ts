// Berth API client: adds the base path and token, turns `{error, message}` answers into ApiError.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { NetworkError, openRequest, openUpload, readText } from './http.ts';

export class ApiError extends Error {
  name = 'ApiError';
  code: string;
  status: number;
  body: Record<string, unknown>; // the whole error answer, e.g. `release` on release_failed
  constructor(status: number, code: string, message: string, body: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

const API_PATH = '/api/v1';

/** Accepts `http://host:7070`, with or without a trailing slash or `/api/v1`. */
export function apiBaseUrl(apiUrl: string): string {
  const root = apiUrl.trim().replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return root + API_PATH;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly token: string;

  constructor(apiUrl: string, token: string) {
    this.baseUrl = apiBaseUrl(apiUrl);
    this.token = token;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body);
  }

  /** Reads an NDJSON answer record by record, as the server sends them (a POST when there is a body). */
  async *stream<T>(path: string, body?: unknown): AsyncGenerator<T> {
    const response = await this.open(body === undefined ? 'GET' : 'POST', path, body);
    if (!isOk(response)) throw await toApiError(response);
    try {
      yield* readNdjson<T>(response);
    } catch (error) {
      // A follow can run for hours; a server restart then ends it mid-stream.
      if (error instanceof ApiError) throw error;
      throw new NetworkError(new URL(this.baseUrl).origin, error, 'lost the connection to');
    }
  }

  /** A GET whose answer is a byte stream (a backup archive); an error answer is thrown as ApiError. */
  async download(path: string): Promise<IncomingMessage> {
    const response = await this.open('GET', path);
    if (!isOk(response)) throw await toApiError(response);
    return response;
  }

  /** POSTs a streamed body of `size` bytes and parses the JSON answer. */
  async upload<T>(path: string, body: Readable, size: number, headers: Record<string, string> = {}): Promise<T> {
    const response = await openUpload(new URL(this.baseUrl + path), {
      method: 'POST', body, size, headers: { ...headers, authorization: `Bearer ${this.token}`, accept: 'application/json' },
    });
    if (!isOk(response)) throw await toApiError(response);
    return JSON.parse(await readText(response)) as T;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.open(method, path, body);
    if (!isOk(response)) throw await toApiError(response);
    const text = await readText(response);
    if (!text) return undefined as T; // e.g. a 204 from a proxy or a future route
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(response.statusCode ?? 0, 'bad_response', `the server sent invalid JSON for ${method} ${path}`);
    }
  }

  private open(method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    const headers = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    const json = body === undefined ? undefined : JSON.stringify(body);
    return openRequest(new URL(this.baseUrl + path), { method, headers, body: json });
  }
}

function isOk(response: IncomingMessage): boolean {
  const status = response.statusCode ?? 0;
  return status >= 200 && status < 300;
}

/** Proxies and crashed servers answer with HTML or nothing; those still get a readable message. */
async function toApiError(response: IncomingMessage): Promise<ApiError> {
  const status = response.statusCode ?? 0;
  const text = await readText(response);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: fall through to the status line
  }
  const code = typeof body.error === 'string' ? body.error : `http_${status}`;
  const message = typeof body.message === 'string' ? body.message : `HTTP ${status} ${response.statusMessage ?? ''}`.trim();
  return new ApiError(status, code, message, body);
}

/** Splits a byte stream into JSON records; a record may arrive across several chunks. */
export async function* readNdjson<T>(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) yield parseRecord<T>(line);
  }
  pending += decoder.decode();
  if (pending.trim()) yield parseRecord<T>(pending);
}

function parseRecord<T>(line: string): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new ApiError(0, 'bad_response', `the server sent an invalid log record: ${line.slice(0, 80)}`);
  }
}

/** `/apps/NAME` plus an optional sub-path; names are validated by the server, so encode them. */
export function appPath(app: string, rest = ''): string {
  return `/apps/${encodeURIComponent(app)}${rest}`;
}
