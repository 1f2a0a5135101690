// glibc's malloc keeps what the server frees: Docker API responses, child processes' pipes and fetches
// allocate and free native buffers all day, and the main arena's top and the grown mmap threshold hold on
// to it. Measured (docs/benchmarks.md, "idle RSS"): 50 deploys took the server from 117 to 292 MB with a
// 34 MB V8 heap, and destroying every app gave nothing back. Tunables are read once, when the process
// starts, so the server sets them in its own environment and replaces itself (same pid) with them.
import { isSea } from 'node:sea';
import v8 from 'node:v8';

/** Large blocks mmap'd (and unmapped on free), the top trimmed early, two arenas for the few threads. */
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=2';

/**
 * The environment to start again with, or null when there is nothing to do: not Linux, or the malloc
 * tunables are already set (by us before the re-exec, or by an admin who chose their own).
 */
export function tunedEnvironment(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): NodeJS.ProcessEnv | null {
  if (platform !== 'linux') return null;
  const current = env.GLIBC_TUNABLES ?? '';
  if (current.includes('glibc.malloc.')) return null;
  return { ...env, GLIBC_TUNABLES: current ? `${current}:${MALLOC_TUNABLES}` : MALLOC_TUNABLES };
}

/**
 * The command line that starts this same program again. The single executable takes its Node flags from
 * itself, and Node repeats its path as argv[1] where a script's path would be.
 */
export function sameCommand(execPath: string, execArgv: string[], argv: string[], singleExecutable: boolean): string[] {
  return singleExecutable ? [execPath, ...argv.slice(2)] : [execPath, ...execArgv, ...argv.slice(1)];
}

/**
 * Replaces this process with itself under the malloc tunables (once; returns when they are in place), then
 * has V8 favour size over speed (smaller heap growth steps, fewer optimized copies of code): about 5 MB less
 * idle RSS, on an API that mostly waits. Set here, before the server's modules load, because neither the
 * executable's command line nor NODE_OPTIONS can carry this V8 flag.
 */
export function applyMemorySettings(): void {
  const env = tunedEnvironment(process.env, process.platform);
  try {
    if (env) process.execve!(process.execPath, sameCommand(process.execPath, process.execArgv, process.argv, isSea()), env);
  } catch (err) {
    // Only memory is at stake: a server that cannot start itself again (its file replaced mid-upgrade) runs untuned.
    console.error(`starting again with GLIBC_TUNABLES failed (${(err as Error).message}); running with malloc's defaults`);
  }
  v8.setFlagsFromString('--optimize-for-size');
}
