// One-off containers run to completion (the release phase; later `berth run`): output streamed line by
// line, killed after their time limit, always removed at the end.
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import readline from 'node:readline';
import { demuxInto } from './demux.ts';

export async function runToCompletion(container: Docker.Container, timeoutSec: number, onLine: (line: string) => void): Promise<number> {
  try {
    // Attach before start so not a line of output is missed.
    const raw = await container.attach({ stream: true, stdout: true, stderr: true }) as unknown as NodeJS.ReadableStream;
    const lines = new PassThrough();
    demuxInto(raw, lines, lines);
    const reader = readline.createInterface({ input: lines });
    reader.on('line', onLine);
    const outputDone = new Promise<void>((resolve) => raw.on('end', resolve).on('error', () => resolve()));
    await container.start();
    const timer = setTimeout(() => {
      onLine(`timed out after ${timeoutSec} s; stopping it`);
      container.kill().catch(() => {});
    }, timeoutSec * 1000);
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
