// The server side of the pre-receive hook: POST / on a unix socket in the data dir (0600, in a
// 0700 folder), never on the API's port. Only our own hooks can call it (they get this process's
// random token through git's environment). It turns the request into a PushEvent,
// lets the deploy pipeline decide, and streams its lines back; the accept marker goes last.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { ACCEPT_MARKER, HOOK_ENV, HOOK_TOKEN_HEADER, QUARANTINE_VARS, SHA, ZERO_SHA, type HookRequest } from './protocol.ts';
import type { Repos } from './repos.ts';
import { readPushedFile } from './pushed-file.ts';
import { archiveCommit } from './commit-archive.ts';
import type { PushEvent, PushHandler, RefUpdate } from './types.ts';

export interface HookEndpointOptions {
  token: string;
  repos: Repos;
  appExists(name: string): boolean;
  /** Deletions are refused unless this says yes (review branches of an app with review apps on); onPush then decides. */
  mayDelete?(app: string, ref: string): boolean;
  onPush: PushHandler;
  log: (line: string) => void;
}

interface VerifiedPush { app: string; user: string; updates: RefUpdate[]; gitEnv: Record<string, string> }

export function createHookEndpoint(opts: HookEndpointOptions): Hono {
  const hook = new Hono();
  hook.post('/', async (c) => {
    if (!sameSecret(c.req.header(HOOK_TOKEN_HEADER) ?? '', opts.token)) return c.text('Invalid hook token.\n', 403);
    const verified = verify(await c.req.json().catch(() => null), opts);
    if (typeof verified === 'string') return c.text(`${verified}\n`, 400);
    const output = lineStream();
    const aborted = new AbortController();
    c.req.raw.signal.addEventListener('abort', () => aborted.abort(), { once: true });
    output.onCancel(() => aborted.abort());
    void decide(verified, aborted.signal, output, opts);
    return new Response(output.readable, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
  });
  return hook;
}

export interface HookSocket { path: string; close(): Promise<void> }

/**
 * Serves the hook endpoint on a unix socket only this user can open: the folder is made 0700
 * before the socket exists (so there is no moment it is reachable), the socket itself 0600.
 * A socket left by a server that died is replaced.
 */
export async function serveHookSocket(hook: Hono, socketPath: string): Promise<HookSocket> {
  const dir = path.dirname(socketPath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  fs.rmSync(socketPath, { force: true });
  const server = createAdaptorServer({ fetch: hook.fetch });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(
      `the git hook socket ${socketPath} could not be opened (${err.message})` +
      (socketPath.length > 100 ? '; unix socket paths are limited to ~107 bytes: use a shorter BERTH_DATA_DIR' : ''))));
    server.listen(socketPath, () => resolve());
  });
  fs.chmodSync(socketPath, 0o600);
  return {
    path: socketPath,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    }),
  };
}

async function decide(push: VerifiedPush, signal: AbortSignal, output: LineStream, opts: HookEndpointOptions): Promise<void> {
  const event: PushEvent = {
    app: push.app,
    user: push.user,
    updates: push.updates,
    archive: (ref) => archiveCommit(ref, push.gitEnv), // the pushed commit is only in the push's quarantine so far
    readFile: (ref, file, maxBytes) => readPushedFile(ref.newSha, file, maxBytes, push.gitEnv),
    say: (line) => output.write(line.replaceAll('\u0000', '')),
    signal,
  };
  try {
    // Every other deletion is refused here: the hook is the only gate (repositories allow deletes for review branches).
    const deletion = push.updates.find((u) => ZERO_SHA.test(u.newSha) && !opts.mayDelete?.(push.app, u.ref));
    if (deletion) {
      event.say(`Deleting ${deletion.ref.replace(/^refs\/heads\//, 'branch ')} is refused: a Berth app's branches cannot be deleted.`);
      event.say(`(To remove the whole app: berth apps:destroy ${push.app} --confirm ${push.app})`);
    } else if (await opts.onPush(event)) {
      output.write(ACCEPT_MARKER);
      opts.log(`git push ${push.app} by ${push.user} accepted (${describe(push.updates)})`);
      return;
    }
    // A handler that says no has said why: nothing to add.
  } catch (err) {
    event.say(`Push to ${push.app} failed: ${(err as Error).message}`);
    opts.log(`git push ${push.app} by ${push.user}: push handler failed: ${(err as Error).stack ?? err}`);
  } finally {
    output.close();
  }
  opts.log(`git push ${push.app} by ${push.user} rejected (${describe(push.updates)})`);
}

const describe = (updates: RefUpdate[]) => updates.map((u) => `${u.ref} ${u.newSha.slice(0, 7)}`).join(', ');

/** Checks the request and that its git environment points into that app's repository. */
function verify(body: unknown, opts: HookEndpointOptions): VerifiedPush | string {
  const request = body as Partial<HookRequest> | null;
  const env = request?.env;
  if (!env || typeof env !== 'object' || !Array.isArray(request.updates)) return 'Malformed hook request.';
  const app = String(env[HOOK_ENV.app] ?? '');
  if (!opts.appExists(app)) return `App "${app}" not found.`;
  const updates = request.updates.map((u) => ({ oldSha: String(u?.oldSha), newSha: String(u?.newSha), ref: String(u?.ref) }));
  if (updates.length === 0 || updates.some((u) => !SHA.test(u.oldSha) || !SHA.test(u.newSha) || !u.ref.startsWith('refs/'))) {
    return 'Malformed ref updates.';
  }
  const gitEnv: Record<string, string> = {};
  const repo = realpath(opts.repos.pathFor(app));
  for (const name of QUARANTINE_VARS) {
    const value = env[name];
    if (value === undefined) continue;
    const dirs = typeof value !== 'string' ? null : name === 'GIT_ALTERNATE_OBJECT_DIRECTORIES' ? value.split(path.delimiter) : [value];
    if (!dirs || !dirs.every((dir) => isInside(realpath(dir), repo))) {
      return `${name} is outside the repository of ${app}.`;
    }
    gitEnv[name] = value;
  }
  if (gitEnv.GIT_DIR === undefined || realpath(gitEnv.GIT_DIR) !== repo) return `GIT_DIR is not the repository of ${app}.`;
  return { app, user: String(env[HOOK_ENV.user] ?? ''), updates, gitEnv };
}

const realpath = (p: string): string => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
const isInside = (p: string, dir: string): boolean => p === dir || p.startsWith(dir + path.sep);

function sameSecret(given: string, expected: string): boolean {
  // Hashing first gives equal lengths, which timingSafeEqual needs, without leaking the length.
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}

interface LineStream {
  readable: ReadableStream<Uint8Array>;
  write(line: string): void;
  close(): void;
  onCancel(listener: () => void): void;
}

/** A text response written line by line; writes after close or cancel are dropped. */
function lineStream(): LineStream {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const cancelListeners: (() => void)[] = [];
  const readable = new ReadableStream<Uint8Array>({
    start(c) { controller = c; },
    cancel() { open = false; for (const listener of cancelListeners) listener(); },
  });
  return {
    readable,
    write(line) { if (open) controller.enqueue(encoder.encode(`${line}\n`)); },
    close() { if (open) { open = false; controller.close(); } },
    onCancel(listener) { cancelListeners.push(listener); },
  };
}
