// `git archive` of one commit as a tar stream, ended only once git exited cleanly (a failed archive must
// not look like a short tar). gitEnv points git at the repository (GIT_DIR, and a push's quarantine).
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { SHA, ZERO_SHA } from './protocol.ts';
import { gitFreeEnv } from './repos.ts';
import type { RefUpdate } from './types.ts';

export function archiveCommit(ref: RefUpdate, gitEnv: Record<string, string>): Readable {
  if (!SHA.test(ref.newSha) || ZERO_SHA.test(ref.newSha)) throw new Error(`Nothing to archive for ${ref.ref}: it is being deleted.`);
  const child = spawn('git', ['archive', '--format=tar', ref.newSha], {
    cwd: gitEnv.GIT_DIR, env: { ...gitFreeEnv(), ...gitEnv }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tar = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-2000); });
  child.stdout.pipe(tar, { end: false });
  child.on('close', (code) => {
    if (code === 0) tar.end();
    else tar.destroy(new Error(`git archive ${ref.newSha.slice(0, 7)} failed: ${stderr.trim() || `exit ${code}`}`));
  });
  child.on('error', (err) => tar.destroy(err));
  tar.on('close', () => { if (child.exitCode === null) child.kill(); });
  return tar;
}
