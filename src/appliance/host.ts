// Thin executors for `berth up` and `berth upgrade` on this machine: commands, probes, pid files and
// daemons started without systemd, as scripts/lib.sh does them (the same pid files and words, so
// scripts/down.sh stops what the executable started).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export interface CommandResult { code: number; stdout: string; stderr: string }

/** Runs a program (no shell) and returns its exit code and output; never throws for a non-zero exit. */
export function runProgram(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (err?.message ?? '') });
      });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** systemd's own test (sd_booted): PID 1 is systemd exactly when this directory exists. */
export const hasSystemd = (): boolean => fs.existsSync('/run/systemd/system');

/**
 * True when the URL answers 2xx within 2 s. "unix:SOCKET:PATH" asks over a unix socket with the empty Host
 * header Caddy's admin API wants there.
 */
export function urlOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rest = url.slice('unix:'.length);
    const options: http.RequestOptions = url.startsWith('unix:')
      ? { socketPath: rest.slice(0, rest.indexOf(':')), path: rest.slice(rest.indexOf(':') + 1), setHost: false, headers: { host: '' } }
      : (() => { const u = new URL(url); return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || 80, path: `${u.pathname}${u.search}` }; })();
    const req = http.get({ ...options, timeout: 2_000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls check up to `tries` times, half a second apart; never waits forever. */
export async function waitUntil(tries: number, check: () => boolean | Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await sleep(500);
  }
  return false;
}

/** A process's argv, or null when it is gone or a zombie (a zombie counts as gone: no init may reap it). */
export function processArgv(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return null;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

export function readPid(pidfile: string): number | null {
  try {
    const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * The pid in PIDFILE when that process lives and its command line contains one of the words: a stale pid
 * file never matches an unrelated process that reuses the pid.
 */
export function livePid(pidfile: string, words: string[]): number | null {
  const pid = readPid(pidfile);
  const argv = pid ? processArgv(pid) : null;
  const line = argv?.join(' ') ?? '';
  return pid && argv && words.some((word) => line.includes(word)) ? pid : null;
}

/**
 * Starts a long-running program detached from this process's session (setsid), output appended to LOG and
 * its pid written to PIDFILE, so that neither the end of `berth up` nor a Ctrl-C takes it down.
 */
export function startDaemon(pidfile: string, log: string, argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  fs.mkdirSync(path.dirname(pidfile), { recursive: true });
  fs.mkdirSync(path.dirname(log), { recursive: true });
  fs.appendFileSync(log, `\n=== ${new Date().toISOString()} starting: ${argv.join(' ')}\n`);
  const out = fs.openSync(log, 'a');
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', out, out], env });
  fs.closeSync(out);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${argv[0]}`);
  fs.writeFileSync(pidfile, `${child.pid}\n`);
  return child.pid;
}

/** SIGTERM, up to `tries` half-seconds to exit, then SIGKILL. Returns false when nothing was running. */
export async function terminatePid(pidfile: string, words: string[], tries = 40): Promise<boolean> {
  const pid = livePid(pidfile, words);
  if (!pid) {
    fs.rmSync(pidfile, { force: true });
    return false;
  }
  try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
  if (!(await waitUntil(tries, () => processArgv(pid) === null))) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    await waitUntil(10, () => processArgv(pid) === null);
  }
  fs.rmSync(pidfile, { force: true });
  return true;
}

/** Writes FILE only when its content differs; true when it wrote. */
export function writeIfChanged(file: string, content: string, mode = 0o644): boolean {
  try {
    if (fs.readFileSync(file, 'utf8') === content) return false;
  } catch { /* absent */ }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, content, { mode });
  fs.chmodSync(temp, mode);
  fs.renameSync(temp, file);
  return true;
}

/** Replaces FILE with a copy of SOURCE in one rename: a running program keeps the file it started from. */
export function replaceFileAtomically(source: string, file: string, mode = 0o755): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.new`;
  fs.copyFileSync(source, temp);
  fs.chmodSync(temp, mode);
  fs.renameSync(temp, file);
}
