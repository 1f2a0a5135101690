// The console talks only to the public /api/v1 API, as the CLI does: the session cookie for auth and
// the CSRF token (from sign-in) on every change.
export type { App, Build, Formation, Instance, MetricsAnswer, Release, User } from '../src/wire/types.ts';
export type { Addon, AddonChange, AddonInfo, Backup, BackupList, BackupRestore } from '../src/wire/types.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) { super(message); this.status = status; this.code = code; }
}

let csrfToken = '';
export const setCsrf = (token: string) => { csrfToken = token; };
let onSignedOut: () => void = () => {};
export const whenSignedOut = (fn: () => void) => { onSignedOut = fn; };

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let parsed: unknown = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const err = (parsed ?? {}) as { error?: string; message?: string };
    if (res.status === 401 && path !== '/session') onSignedOut();
    throw new ApiError(res.status, err.error ?? 'error', err.message ?? `${method} ${path} failed (${res.status})`);
  }
  return parsed as T;
}

/**
 * POSTs a change whose answer streams as NDJSON (hosts:add's task lines), item by item as they come.
 * A refusal before the stream starts is an ApiError with the server's message, as with api().
 */
export async function postNdjson<T>(path: string, body: unknown, onItem: (item: T) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(`/api/v1${path}`, {
    method: 'POST', signal, credentials: 'same-origin', body: JSON.stringify(body),
    headers: { accept: 'application/x-ndjson', 'content-type': 'application/json', 'x-csrf-token': csrfToken },
  });
  if (!res.ok || !res.body) {
    let err: { error?: string; message?: string } = {};
    try { err = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401) onSignedOut();
    throw new ApiError(res.status, err.error ?? 'error', err.message ?? `POST ${path} failed (${res.status})`);
  }
  await readLines(res.body, onItem, signal);
}

/** Reads an NDJSON stream (logs, build logs) item by item until it ends or the signal aborts. */
export async function readNdjson<T>(path: string, onItem: (item: T) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(`/api/v1${path}`, { signal, credentials: 'same-origin' });
  if (!res.ok || !res.body) {
    // Refusals (a bad search window, say) carry the server's own message.
    const err = await res.json().catch(() => ({})) as { error?: string; message?: string };
    throw new ApiError(res.status, err.error ?? 'stream_failed', err.message ?? `Could not open ${path} (${res.status}).`);
  }
  await readLines(res.body, onItem, signal);
}

async function readLines<T>(body: NonNullable<Response['body']>, onItem: (item: T) => void, signal: AbortSignal): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onItem(JSON.parse(line) as T);
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}
