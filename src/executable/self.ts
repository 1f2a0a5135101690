// How this program runs itself again (git's pre-receive hook, git's credential helper, the admin token
// note): dist/berth is one file that is its own interpreter; the bundles and the sources need Node first.
import fs from 'node:fs';
import path from 'node:path';
import { isSea } from 'node:sea';

/** True inside dist/berth, the single executable application. */
export const inExecutable = (): boolean => isSea();

/** The argv prefix that starts this same program: `[berth]`, or `[node, <entry file>]`. */
export function selfCommand(): string[] {
  return inExecutable() ? [process.execPath] : [process.execPath, path.resolve(process.argv[1] ?? '')];
}

/** The hook entry beside a server entry: src/server/git-hook.ts beside main.ts, dist/git-hook.mjs beside berth-server.mjs. */
const HOOK_ENTRY = 'git-hook';

/**
 * The argv prefix of git's pre-receive hook (`git-hook` is appended): `[berth]`, whose launcher runs only the
 * hook; else `[node, <git-hook entry beside the server's>]`, which loads the hook's few modules instead of the
 * whole server; `[node, <server entry>]` when there is none (a bundle copied alone).
 */
export function hookCommand(self: string[] = selfCommand()): string[] {
  if (self.length === 1) return self;
  const entry = self[1];
  const hook = path.join(path.dirname(entry), `${HOOK_ENTRY}${path.extname(entry)}`);
  return fs.existsSync(hook) ? [self[0], hook] : self;
}

/** What to type to reach the server's own subcommands (issue-admin-token, registry-auth). */
export function serverCommandHint(): string {
  return inExecutable() ? `${path.basename(process.execPath)} server` : `node ${path.basename(process.argv[1] ?? 'berth-server.mjs')}`;
}

/** Words joined into one /bin/sh command line, each single-quoted (paths may hold spaces or quotes). */
export function shellCommand(words: string[]): string {
  return words.map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ');
}
