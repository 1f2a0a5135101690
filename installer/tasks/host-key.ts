// The host's SSH key, pinned in Berth's known_hosts before anything logs in. Given the fingerprint the
// operator read on the host (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), only a key with that
// fingerprint is pinned, and a host that offers none is refused before any login. Without it, the key
// is trusted on first use as before, and its fingerprint is shown so the operator can compare.
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { knownHostKeys } from '../ssh.ts';
import type { Task, TaskContext } from '../task.ts';

const KEYSCAN_TIMEOUT_SEC = 10;

/** OpenSSH's SHA256 fingerprint of a public key blob: "SHA256:" + unpadded base64 of its sha256. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** "SHA256:abc…" as an operator may paste it (with or without the prefix); null when it is not one. */
export function normalizeFingerprint(text: string): string | null {
  const body = text.trim().replace(/^SHA256:/i, '');
  return /^[A-Za-z0-9+/]{43}$/.test(body) ? `SHA256:${body}` : null;
}

export interface ScannedKey { line: string; type: string; fingerprint: string }

/** known_hosts lines as ssh-keyscan prints them ("HOST TYPE BASE64"); comments and junk are skipped. */
export function parseKeyscan(output: string): ScannedKey[] {
  return output.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(/\s+/))
    .filter((f) => f.length >= 3 && /^(ssh-|ecdsa-|sk-)/.test(f[1]) && /^[A-Za-z0-9+/]+=*$/.test(f[2]))
    .map((f) => ({ line: f.slice(0, 3).join(' '), type: f[1], fingerprint: sshFingerprint(Buffer.from(f[2], 'base64')) }));
}

/** The scanned keys to pin: all of them (trust on first use), or those with the expected fingerprint. */
export function keysToPin(scanned: ScannedKey[], expected: string | null): ScannedKey[] {
  return expected ? scanned.filter((k) => k.fingerprint === expected) : scanned;
}

export function mismatchMessage(host: string, expected: string, offered: ScannedKey[]): string {
  const list = offered.length ? offered.map((k) => `${k.type} ${k.fingerprint}`).join(', ') : 'no key at all';
  return `${host} did not offer the host key ${expected} (it offered ${list}): nothing was pinned and nothing logged in.`;
}

function keyscan(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ssh-keyscan', ['-T', String(KEYSCAN_TIMEOUT_SEC), '-p', String(port), host], { timeout: (KEYSCAN_TIMEOUT_SEC + 5) * 1000 },
      (err, stdout) => (stdout.trim() || !err ? resolve(stdout) : reject(new Error(`ssh-keyscan ${host}: ${err.message}`))));
  });
}

export interface HostKeyTarget { host: string; port: number; knownHostsFile: string; expected: string | null }

export function hostKeyTask(t: HostKeyTarget): Task {
  let pinned: string[] = [];
  const pinnedFingerprints = () => knownHostKeys(t.knownHostsFile, t.host, t.port).map(sshFingerprint);
  return {
    // Read after the run, so a key trusted on first use is shown with its fingerprint.
    get name() {
      if (t.expected) return `SSH host key ${t.expected} pinned`;
      return pinned.length ? `SSH host key pinned on first use: ${pinned.join(', ')} (compare with the host's ssh-keygen -lf)` : 'SSH host key pinned';
    },
    hint: t.expected
      ? "Read the host's key fingerprint on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pass that to --host-key; if the host was reinstalled, remove its line from Berth's known_hosts."
      : "The host must answer ssh-keyscan on its SSH port.",
    async check(ctx: TaskContext) {
      const have = pinnedFingerprints();
      if (have.length) {
        if (t.expected && !have.includes(t.expected)) {
          throw new Error(`the key pinned for ${t.host} (${have.join(', ')}) is not ${t.expected}`);
        }
        pinned = have;
        return true;
      }
      // --check writes nothing, but still refuses a host that would not match.
      if (ctx.checkOnly && t.expected) {
        const offered = parseKeyscan(await keyscan(t.host, t.port));
        if (!keysToPin(offered, t.expected).length) throw new Error(mismatchMessage(t.host, t.expected, offered));
      }
      return false;
    },
    async apply() {
      const offered = parseKeyscan(await keyscan(t.host, t.port));
      if (!offered.length) throw new Error(`${t.host}:${t.port} offered no SSH host key`);
      const keep = keysToPin(offered, t.expected);
      if (!keep.length) throw new Error(mismatchMessage(t.host, t.expected!, offered));
      const name = t.port === 22 ? t.host : `[${t.host}]:${t.port}`;
      fs.mkdirSync(path.dirname(t.knownHostsFile), { recursive: true });
      fs.appendFileSync(t.knownHostsFile, keep.map((k) => `${name} ${k.line.split(' ').slice(1).join(' ')}\n`).join(''), { mode: 0o600 });
      pinned = keep.map((k) => k.fingerprint);
    },
  };
}
