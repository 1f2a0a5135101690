// The berth CLI run as a user runs it, against a test server: the one home for what CLI-driven tests need.
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import path from 'node:path';

/** The CLI every test runs: the bundle scripts/test.sh builds (BERTH_TEST_CLI_ENTRY), else the sources. */
export const CLI_ENTRY = process.env.BERTH_TEST_CLI_ENTRY || path.resolve(import.meta.dirname, '../../src/cli/main.ts');

export interface CliResult { code: number; out: string; err: string }

export interface CliTarget {
  url: string;
  token: string;
  /** HOME and the CLI's config dir (credentials, git helper): a scratch dir, so nothing lands in the real ~. */
  home?: string;
  env?: Record<string, string>;
}

export interface CliRunOptions { input?: string; timeoutMs?: number; cwd?: string }

export function cliEnv(target: CliTarget): NodeJS.ProcessEnv {
  return {
    ...process.env,
    BERTH_API_URL: target.url,
    BERTH_TOKEN: target.token,
    ...(target.home ? { HOME: target.home, BERTH_CONFIG_DIR: target.home } : {}),
    ...target.env,
  };
}

/** Blocks this process: only for commands that need nothing from this process while they run. */
export function runCliSync(target: CliTarget, args: string[], opts: CliRunOptions = {}): CliResult {
  const res = spawnSync(process.execPath, [CLI_ENTRY, ...args], {
    env: cliEnv(target), encoding: 'utf8', input: opts.input, cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 180_000, maxBuffer: 64 * 1024 * 1024,
  });
  return { code: res.status ?? -1, out: res.stdout, err: res.stderr };
}

/** Without blocking: requests this process makes meanwhile (and its idle API connections) keep working. */
export function runCli(target: CliTarget, args: string[], opts: CliRunOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { env: cliEnv(target), cwd: opts.cwd });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.end(opts.input ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** The output of a command that must succeed; its stderr and stdout in the failure message otherwise. */
export function cliOutput(res: CliResult, args: string[]): string {
  assert.equal(res.code, 0, `berth ${args.join(' ')} failed:\n${res.err}${res.out}`);
  return res.out;
}
