// The console talks only to the public /api/v1 API, as the CLI does: the session cookie for auth and
// the CSRF token (from sign-in) on every change.
export interface App {
  name: string; url: string; gitUrl: string; deployBranch: string; status: string; currentRelease: number | null;
  instances: number; domains: string[]; createdAt: string; lastDeployAt: string | null;
}
export interface Formation { type: string; quantity: number; memoryMB: number | null; cpus: number | null; command: string | null }
export interface Release {
  version: number; status: string; description: string; image: string | null; configKeys: string[]; formation: Formation[];
  createdBy?: string; createdAt: string; finishedAt: string | null; failureReason: string | null; current: boolean;
}
export interface Instance { name: string; type: string; index: number; release: number; state: string; startedAt: string | null; restartCount: number }
export interface Build { id: number; status: string; commitSha: string; ref: string; pushedBy: string; startedAt: string; finishedAt: string | null; error: string | null }
export interface User { name: string; role: string }

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

/** Reads an NDJSON stream (logs, build logs) item by item until it ends or the signal aborts. */
export async function readNdjson<T>(path: string, onItem: (item: T) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(`/api/v1${path}`, { signal, credentials: 'same-origin' });
  if (!res.ok || !res.body) throw new ApiError(res.status, 'stream_failed', `Could not open ${path} (${res.status}).`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
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
