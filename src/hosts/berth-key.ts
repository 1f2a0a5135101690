// Berth's own SSH identity for its hosts: made on first use under the data dir, never leaves it. The
// installer authorizes its public key on every host; the Docker API channel logs in with it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface BerthSshFiles {
  keyFile: string;
  publicKey: string;
  knownHostsFile: string;
}

export function ensureBerthSshKey(dataDir: string): BerthSshFiles {
  const dir = path.join(dataDir, 'ssh');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dir, 'id_ed25519');
  if (!fs.existsSync(keyFile)) {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'berth', '-f', keyFile], { stdio: 'ignore' });
  }
  return {
    keyFile,
    publicKey: fs.readFileSync(`${keyFile}.pub`, 'utf8').trim(),
    knownHostsFile: path.join(dir, 'known_hosts'),
  };
}

/** A login key the operator sent with hosts:add, in a 0600 file for ssh(1); removed by the returned function. */
export function writeTemporaryKey(dataDir: string, privateKey: string): { file: string; dispose: () => void } {
  const dir = fs.mkdtempSync(path.join(dataDir, 'ssh', 'login-'));
  const file = path.join(dir, 'key');
  fs.writeFileSync(file, privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
  return { file, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
