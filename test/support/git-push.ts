// `git push` as a user runs it, with its whole output (git prints remote: lines on stderr).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gitEnv } from './git-env.ts';

export function gitPush(cwd: string, ...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('git', ['push', ...args], { cwd, env: gitEnv() });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/**
 * A copy of a fixture app as a fresh git repository (branch main, one commit) in `dir`, with `remote` as its
 * "paas" remote when given: what a user has before their first `git push paas main`. Returns its path.
 */
export function fixtureRepo(fixture: string, dir: string, remote?: string): string {
  fs.cpSync(fixture, dir, { recursive: true });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: gitEnv() });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', path.basename(dir));
  if (remote) git('remote', 'add', 'paas', remote);
  return dir;
}
