// `berth supervise COMMAND...`: runs a command and starts it again whenever it exits, as systemd's
// Restart=always does, for machines without systemd (`berth up` runs Caddy under it, so a crash or a stray
// /stop does not leave every app unrouted). SIGTERM or SIGINT stops the command, then the supervisor.
import { spawn, type ChildProcess } from 'node:child_process';

export async function supervise(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    process.stderr.write('usage: berth supervise COMMAND [ARGS...]\n');
    return 2;
  }
  let child: ChildProcess | null = null;
  let stopping = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopping = true;
    child?.kill('SIGTERM');
    wake();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  let delay = 1;
  while (!stopping) {
    const started = Date.now();
    child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
    const status = await new Promise<string>((resolve) => {
      child!.once('exit', (code, signal) => resolve(String(code ?? signal)));
      child!.once('error', (err) => resolve(err.message));
    });
    child = null;
    if (stopping) break;
    // One that ran a while starts again after 1 s; one that keeps dying at once, less and less often (up to 30 s).
    if (Date.now() - started >= 30_000) delay = 1;
    process.stdout.write(`=== ${new Date().toISOString()} supervise: ${argv[0]} exited (status ${status}); starting it again in ${delay} s\n`);
    await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, delay * 1000); });
    delay = Math.min(delay * 2, 30);
  }
  return 0;
}
