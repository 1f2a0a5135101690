// The web terminal's shell: `docker exec -it` through the engine API. bash when the image has it, else sh.
// Every process of the session carries a marker variable, so closing can end the shell and whatever
// it started, even when the browser just went away (the engine never ends an exec on its own).
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecOptions, ExecSession } from '../types.ts';
import { LABEL } from './labels.ts';

export const MARKER = 'BERTH_TERMINAL';
export const LOGIN_SHELL = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash -i; else exec sh -i; fi'];

export async function openExec(docker: Docker, owner: string, containerId: string, opts: ExecOptions): Promise<ExecSession> {
  const container = docker.getContainer(containerId);
  const info = await container.inspect();
  if (info.Config.Labels?.[LABEL.owner] !== owner) throw new Error(`container ${containerId} is not one of this Berth installation's`);
  if (!info.State.Running) throw new Error(`container ${info.Name.replace(/^\//, '')} is not running`);

  const marker = randomBytes(8).toString('hex');
  const env = Object.entries({ TERM: 'xterm-256color', ...opts.env, [MARKER]: marker }).map(([k, v]) => `${k}=${v}`);
  const exec = await container.exec({
    Cmd: opts.command, Env: env, Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: true, Tty: true }) as unknown as Duplex;
  await exec.resize({ h: opts.rows, w: opts.cols }).catch(() => {}); // a shell that exited at once cannot be resized
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });

  let closed = false;
  return {
    output: stream,
    ended,
    write: (data) => { if (!stream.destroyed) stream.write(data); },
    resize: async (cols, rows) => { await exec.resize({ h: rows, w: cols }); },
    close: async () => {
      if (closed) return;
      closed = true;
      stream.end();
      stream.destroy();
      await killMarked(container, marker).catch(() => {});
    },
  };
}

/** Kills every process in the container whose environment carries this session's marker. */
async function killMarked(container: Docker.Container, marker: string): Promise<void> {
  const sweep = await container.exec({ Cmd: killMarkedCommand(marker), AttachStdout: true, AttachStderr: true });
  const out = await sweep.start({ hijack: true, stdin: false }) as unknown as Duplex;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { out.destroy(); resolve(); }, 5000);
    out.on('data', () => {});
    out.once('end', () => { clearTimeout(timer); resolve(); });
    out.once('error', () => { clearTimeout(timer); resolve(); });
  });
}

/** A shell command that kills every process whose environment carries the session's marker (also used on Kubernetes). */
export function killMarkedCommand(marker: string): string[] {
  return ['/bin/sh', '-c', `for p in /proc/[0-9]*; do if grep -qz '^${MARKER}=${marker}$' "$p/environ" 2>/dev/null; then kill -KILL "\${p#/proc/}" 2>/dev/null; fi; done; true`];
}
