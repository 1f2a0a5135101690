// One-off containers run to completion (the release phase; later `berth run`). They carry their own
// label, not berth.managed, so instance listing and reconcile never mistake them for app instances.
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import readline from 'node:readline';
import type { OneOffSpec } from '../types.ts';
import { LABEL } from './labels.ts';

export async function runOnce(docker: Docker, owner: string, spec: OneOffSpec, onLine: (line: string) => void): Promise<number> {
  const container = await docker.createContainer({
    name: `berth-${spec.app}-v${spec.release}-oneoff-${Date.now().toString(36)}`,
    Image: spec.image,
    Cmd: spec.command,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { 'berth.oneoff': '1', [LABEL.owner]: owner, [LABEL.app]: spec.app, [LABEL.release]: String(spec.release) },
    HostConfig: { Init: true, ...(spec.memoryMB ? { Memory: spec.memoryMB * 1024 * 1024 } : {}) },
  });
  try {
    // Attach before start so not a line of output is missed.
    const raw = await container.attach({ stream: true, stdout: true, stderr: true }) as unknown as NodeJS.ReadableStream;
    const lines = new PassThrough();
    docker.modem.demuxStream(raw, lines, lines);
    const reader = readline.createInterface({ input: lines });
    reader.on('line', onLine);
    const outputDone = new Promise<void>((resolve) => raw.on('end', resolve).on('error', () => resolve()));
    await container.start();
    const timer = setTimeout(() => {
      onLine(`timed out after ${spec.timeoutSec} s; stopping it`);
      container.kill().catch(() => {});
    }, spec.timeoutSec * 1000);
    try {
      const result = await container.wait() as { StatusCode: number };
      await outputDone;
      lines.end();
      return result.StatusCode;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}
