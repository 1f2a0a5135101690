// A deploy key for an SSH connection: a fresh ed25519 key made by ssh-keygen, one per connection. The
// private half is stored sealed; the public half is printed for the team to add to the git host.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface DeployKey { privateKey: string; publicKey: string }

export async function generateDeployKey(comment: string): Promise<DeployKey> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-deploy-key-'));
  try {
    const file = path.join(dir, 'key');
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    return { privateKey: fs.readFileSync(file, 'utf8'), publicKey: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
