// `berth run` on the Docker engine: a one-off container attached before it starts (so no output is lost),
// stdin passed on, a TTY or stdout and stderr kept apart, killed at its time limit, removed once it ends.
import type { Duplex } from 'node:stream';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { AttachedRun } from '../types.ts';
import { demuxInto } from './demux.ts';

/** How long the output may trail the exit before the run counts as finished anyway. */
const OUTPUT_GRACE_MS = 5000;

export async function startAttached(container: Docker.Container, opts: { tty: boolean; cols: number; rows: number; timeoutSec: number; name: string }): Promise<AttachedRun> {
  const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }) as unknown as Duplex;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (opts.tty) stream.pipe(stdout);
  else demuxInto(stream, stdout, stderr);
  const outputDone = new Promise<void>((resolve) => { stream.once('end', resolve); stream.once('close', resolve); stream.once('error', () => resolve()); });
  stream.on('error', () => {}); // a broken attach ends the output; the exit code still comes from wait()

  await container.start();
  if (opts.tty) await container.resize({ h: opts.rows, w: opts.cols }).catch(() => {}); // it may have exited already
  const timer = setTimeout(() => { container.kill().catch(() => {}); }, opts.timeoutSec * 1000);

  const exited = (async () => {
    try {
      const { StatusCode } = await container.wait() as { StatusCode: number };
      await Promise.race([outputDone, new Promise((r) => setTimeout(r, OUTPUT_GRACE_MS))]);
      return StatusCode;
    } finally {
      clearTimeout(timer);
      stdout.end();
      stderr.end();
      stream.destroy();
      await container.remove({ force: true }).catch(() => {});
    }
  })();

  return {
    name: opts.name,
    stdout,
    stderr,
    exited,
    write: (data) => { if (!stream.destroyed) stream.write(data); },
    // A half-close: the engine closes the command's stdin and keeps sending its output.
    endInput: () => { if (!stream.destroyed) stream.end(); },
    resize: async (cols, rows) => { if (opts.tty) await container.resize({ h: rows, w: cols }); },
    signal: async (name) => { await container.kill({ signal: name }); },
  };
}
