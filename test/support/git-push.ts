// `git push` as a user runs it, with its whole output (git prints remote: lines on stderr).
import { spawn } from 'node:child_process';
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
