// What the pre-receive hook process and the server's hook endpoint agree on. The hook POSTs a
// HookRequest; the server streams back text lines for the pusher and, to accept, one last line
// that is ACCEPT_MARKER. The marker starts with NUL, which say() strips, so no message can fake it.
import type { RefUpdate } from './types.ts';

export const ACCEPT_MARKER = '\u0000berth:accept';
export const HOOK_TOKEN_HEADER = 'x-berth-hook-token';

/** Variables git http-backend passes down to the hook (set by the receiver). */
export const HOOK_ENV = {
  socket: 'BERTH_HOOK_SOCKET', // the unix socket the hook endpoint listens on (never a TCP port)
  token: 'BERTH_HOOK_TOKEN',
  app: 'BERTH_APP',
  user: 'BERTH_PUSH_USER',
} as const;

/** The quarantine git runs the hook in: the pushed objects are only visible through it. */
export const QUARANTINE_VARS = [
  'GIT_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_QUARANTINE_PATH',
] as const;

export interface HookRequest {
  updates: RefUpdate[];
  /** QUARANTINE_VARS plus BERTH_APP and BERTH_PUSH_USER, as the hook saw them (paths absolute). */
  env: Record<string, string>;
}

export const ZERO_SHA = /^0+$/;
export const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Parses git's `old new ref` stdin lines. */
export function parseRefLines(text: string): RefUpdate[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => {
    const [oldSha, newSha, ref] = line.trim().split(/\s+/);
    return { oldSha, newSha, ref };
  });
}
