// How this program runs itself again (git's pre-receive hook, git's credential helper, the admin token
// note): dist/berth is one file that is its own interpreter; the bundles and the sources need Node first.
import path from 'node:path';
import { isSea } from 'node:sea';

/** True inside dist/berth, the single executable application. */
export const inExecutable = (): boolean => isSea();

/** The argv prefix that starts this same program: `[berth]`, or `[node, <entry file>]`. */
export function selfCommand(): string[] {
  return inExecutable() ? [process.execPath] : [process.execPath, path.resolve(process.argv[1] ?? '')];
}

/** What to type to reach the server's own subcommands (issue-admin-token, registry-auth). */
export function serverCommandHint(): string {
  return inExecutable() ? `${path.basename(process.execPath)} server` : `node ${path.basename(process.argv[1] ?? 'berth-server.mjs')}`;
}

/** Words joined into one /bin/sh command line, each single-quoted (paths may hold spaces or quotes). */
export function shellCommand(words: string[]): string {
  return words.map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ');
}
