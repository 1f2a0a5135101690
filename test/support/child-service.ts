// The life of a service a test spawns itself (Caddy, docker-registry): wait until it answers, stop it.
import type { ChildProcess } from 'node:child_process';

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Polls url until it answers 2xx (or probe() until it resolves, for a service not on TCP); fails at once
 * when the process exits, or after 10 s.
 */
export async function waitUntilAnswers(child: ChildProcess, name: string, url: string, intervalMs: number,
  probe: () => Promise<unknown> = () => getOk(url)): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited early (${child.exitCode ?? child.signalCode})`);
    try {
      await probe();
      return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${name} did not answer on ${url} within ${STARTUP_TIMEOUT_MS} ms (${lastError})`);
}

async function getOk(url: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.ref(); // waited for, even if the caller let it not hold the process open
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
