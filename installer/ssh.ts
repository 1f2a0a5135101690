// Runs installer commands on a host over SSH: the system `ssh` client through zx, non-interactive
// (BatchMode: a missing key fails instead of prompting), with Berth's own known_hosts file. A host key is
// trusted on first contact and pinned from then on, so a changed key later fails loudly.
import fs from 'node:fs';
import path from 'node:path';
import { CommandFailed, type RunOptions, type RunResult, type TaskContext } from './task.ts';

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** Private key file used to log in. */
  keyFile: string;
  /** Berth's known_hosts (under its data dir), never the operator's ~/.ssh/known_hosts. */
  knownHostsFile: string;
}

const COMMAND_TIMEOUT = '15m'; // apt on a slow mirror
const CONNECT_TIMEOUT_SEC = 10;

/** `root@10.0.0.5`, `admin@vm1:2222`, or just `vm1` (root). */
export function parseSshAddress(address: string): { user: string; host: string; port: number } {
  const match = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d+))?$/.exec(address.trim());
  if (!match) throw new Error(`"${address}" is not an SSH address like root@HOST or root@HOST:PORT`);
  return { user: match[1] ?? 'root', host: match[2].replace(/^\[|\]$/g, ''), port: match[3] ? Number(match[3]) : 22 };
}

export function sshArgs(target: SshTarget): string[] {
  return [
    '-i', target.keyFile, '-p', String(target.port),
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', `ConnectTimeout=${CONNECT_TIMEOUT_SEC}`,
    '-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${target.knownHostsFile}`,
    '-o', 'HashKnownHosts=no', '-o', 'LogLevel=ERROR', '-o', 'ServerAliveInterval=15',
    `${target.user}@${target.host}`,
  ];
}

/**
 * Non-root users run every command through sudo (without a password prompt: BatchMode). sudo clears the
 * environment; $SSH_CLIENT (where the host sees Berth connect from) is handed on for the app port firewall.
 */
function asRoot(target: SshTarget, cmd: string): string {
  return target.user === 'root' ? cmd : `sudo -n env SSH_CLIENT="$SSH_CLIENT" sh -c ${shellQuote(cmd)}`;
}

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export async function sshRun(target: SshTarget, cmd: string, opts: RunOptions = {}): Promise<RunResult> {
  fs.mkdirSync(path.dirname(target.knownHostsFile), { recursive: true });
  // zx is loaded on the first command: a server that never installs a host does not hold it (idle RSS).
  const { $ } = await import('zx');
  // ssh joins its arguments into one string for the remote shell, so cmd runs there exactly as written.
  const out = await $({ nothrow: true, quiet: true, timeout: COMMAND_TIMEOUT, input: opts.input ?? '' })`ssh ${sshArgs(target)} ${asRoot(target, cmd)}`;
  const result = { code: out.exitCode ?? 255, stdout: out.stdout, stderr: out.stderr };
  if (result.code !== 0 && !opts.allowFail) throw new CommandFailed(cmd, result);
  return result;
}

export function sshContext(target: SshTarget, vars: Record<string, string>, checkOnly: boolean): TaskContext {
  return { run: (cmd, opts) => sshRun(target, cmd, opts), host: target.host, vars, checkOnly };
}

/** The pinned host key blob(s) of a host, from Berth's known_hosts (for clients other than ssh(1)). */
export function knownHostKeys(knownHostsFile: string, host: string, port: number): Buffer[] {
  const name = port === 22 ? host : `[${host}]:${port}`;
  let text = '';
  try { text = fs.readFileSync(knownHostsFile, 'utf8'); } catch { return []; }
  return text.split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 3 && fields[0].split(',').includes(name))
    .map((fields) => Buffer.from(fields[2], 'base64'));
}
