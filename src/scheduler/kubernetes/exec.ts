// A TTY process inside a pod through the Exec API (websocket; resize on its channel 4). As on Docker, every
// process of the session carries a marker variable, so closing ends the shell and whatever it started even
// when the browser just went away.
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Exec } from '@kubernetes/client-node';
import type { ExecOptions, ExecSession } from '../../runtime/types.ts';
import { MARKER, killMarkedCommand } from '../../runtime/docker/exec.ts';
import type { Cluster } from './client.ts';
import { CONTAINER } from './manifests.ts';

/** Output that the client library treats as a terminal: it sends the size on the resize channel at each 'resize'. */
export class TerminalOutput extends PassThrough {
  columns: number;
  rows: number;
  constructor(cols: number, rows: number) {
    super();
    this.columns = cols;
    this.rows = rows;
  }
  setSize(cols: number, rows: number): void {
    this.columns = cols;
    this.rows = rows;
    this.emit('resize');
  }
}

export async function openExec(cluster: Cluster, namespace: string, pod: string, opts: ExecOptions): Promise<ExecSession> {
  const marker = randomBytes(8).toString('hex');
  const env = Object.entries({ TERM: 'xterm-256color', ...opts.env, [MARKER]: marker }).map(([k, v]) => `${k}=${v}`);
  // The Exec API takes no environment: `env` sets it for the command and all it starts.
  const command = ['env', ...env, ...opts.command];
  const output = new TerminalOutput(opts.cols, opts.rows);
  const input = new PassThrough();
  const exec = new Exec(cluster.config);
  const socket = await exec.exec(namespace, pod, CONTAINER, command, output, null, input, true);
  const ended = new Promise<void>((resolve) => {
    socket.once('close', () => { output.end(); resolve(); });
    socket.once('error', () => { output.end(); resolve(); });
  });
  let closed = false;
  return {
    output,
    ended,
    write: (data) => { if (!input.destroyed) input.write(data); },
    resize: async (cols, rows) => { output.setSize(cols, rows); },
    close: async () => {
      if (closed) return;
      closed = true;
      input.end();
      socket.close();
      await runQuietly(cluster, namespace, pod, killMarkedCommand(marker)).catch(() => {});
    },
  };
}

/** Runs a command without a TTY and waits (at most 5 s) for it to finish; its output is dropped. */
export async function runQuietly(cluster: Cluster, namespace: string, pod: string, command: string[]): Promise<void> {
  const sink = new PassThrough();
  sink.resume();
  const socket = await new Exec(cluster.config).exec(namespace, pod, CONTAINER, command, sink, sink, null, false);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { socket.close(); resolve(); }, 5000);
    socket.once('close', () => { clearTimeout(timer); resolve(); });
  });
}
