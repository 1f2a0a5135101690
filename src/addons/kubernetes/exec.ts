// A non-TTY command in an add-on's pod through the Exec API, streamed both ways with backpressure (a dump to a
// slow client pauses the socket; a restore sends no faster than the socket writes). The Exec API of the
// clusters Berth supports (v4 channel protocol) cannot half-close stdin, so stdin travels framed — a decimal
// length line before each chunk, "0" at its end — and a shell loop in the pod unframes it with `head -c`, whose
// end closes the command's stdin: the command sees EOF while its output still flows.
import type { Readable, Writable } from 'node:stream';
import type { V1Status } from '@kubernetes/client-node';
import WebSocket from 'ws';
import type { Cluster } from '../../scheduler/kubernetes/client.ts';
import { CONTAINER } from '../../scheduler/kubernetes/manifests.ts';
import type { ServiceExec, ServiceExecResult } from '../service-runtime.ts';

const STDERR_TAIL_BYTES = 4096;
const STDIN_CHANNEL = 0;
const STDOUT_CHANNEL = 1;
const STDERR_CHANNEL = 2;
const STATUS_CHANNEL = 3;
/** Reads "LENGTH\n" then LENGTH bytes until a length of 0; `head -c` reads no byte past its count. */
const UNFRAME = 'while IFS= read -r n && [ "$n" -gt 0 ]; do head -c "$n"; done | "$@"';

/** The argv run in the pod: the environment (the Exec API takes none), then the command, its stdin unframed or closed. */
export function execCommand(run: Pick<ServiceExec, 'command' | 'env'>, framedStdin: boolean): string[] {
  const env = Object.entries(run.env ?? {}).map(([k, v]) => `${k}=${v}`);
  return ['env', ...env, '/bin/sh', '-c', framedStdin ? UNFRAME : '"$@" </dev/null', 'berth-exec', ...run.command];
}

/** One stdin chunk as it goes on the wire: the channel byte, the length line, the bytes. */
export function stdinFrame(chunk: Buffer): Buffer {
  return Buffer.concat([Buffer.from([STDIN_CHANNEL]), Buffer.from(`${chunk.length}\n`), chunk]);
}

/** The command's exit code from the Exec API's closing status. */
export function exitCodeOf(status: V1Status | null): number {
  if (!status) return -1;
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  return cause?.message !== undefined && /^\d+$/.test(cause.message) ? Number(cause.message) : -1;
}

export async function execInPod(cluster: Cluster, namespace: string, pod: string, run: ServiceExec): Promise<ServiceExecResult> {
  const query = new URLSearchParams({ container: CONTAINER, stdin: String(Boolean(run.stdin)), stdout: 'true', stderr: 'true', tty: 'false' });
  for (const arg of execCommand(run, Boolean(run.stdin))) query.append('command', arg);
  let status: V1Status | null = null;
  let stderrTail = '';
  const stdout = run.stdout ?? null;
  const open = await connectExec(cluster, `/api/v1/namespaces/${namespace}/pods/${pod}/exec?${query}`);
  const closed = new Promise<void>((resolve) => {
    open.once('close', () => resolve());
    open.once('error', () => resolve());
  });
  // A reader that fails or goes away ends the command: nothing would take its output.
  const abandon = () => open.terminate();
  stdout?.once('error', abandon);
  stdout?.once('close', abandon);
  open.on('message', (message: Buffer) => {
    const channel = message[0];
    const data = message.subarray(1);
    if (channel === STDOUT_CHANNEL && stdout && data.length > 0 && !stdout.write(data)) {
      // The reader is slower than the pod: stop reading the socket until it drained.
      open.pause();
      stdout.once('drain', () => open.resume());
    } else if (channel === STDERR_CHANNEL) {
      stderrTail = (stderrTail + data.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    } else if (channel === STATUS_CHANNEL && data.length > 0) {
      try { status = JSON.parse(data.toString('utf8')) as V1Status; } catch { status = null; }
    }
  });
  const sending = run.stdin ? sendFramed(open, run.stdin, closed) : Promise.resolve();
  await closed;
  // The command ended: whatever stdin was left is not wanted.
  run.stdin?.destroy();
  await sending.catch(() => {});
  stdout?.off('error', abandon);
  stdout?.off('close', abandon);
  if (stdout) await endOf(stdout);
  const exitCode = exitCodeOf(status);
  const failure = status as V1Status | null;
  if (exitCode === -1 && failure?.message) stderrTail = `${stderrTail}${failure.message}`.slice(-STDERR_TAIL_BYTES);
  return { exitCode, stderrTail };
}

/** Each chunk as a frame, the next only once the last reached the socket; then the end frame. */
/** The Exec API's websocket (channel protocol v4), authenticated as the kubeconfig says. */
async function connectExec(cluster: Cluster, path: string): Promise<WebSocket> {
  const server = cluster.config.getCurrentCluster()!.server;
  const options: Record<string, unknown> = {};
  await cluster.config.applyToHTTPSOptions(options);
  const socket = new WebSocket(`${server.replace(/^http/, 'ws')}${path}`, ['v4.channel.k8s.io'], options);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`the API server refused the exec: HTTP ${res.statusCode}`)));
  });
  return socket;
}

async function sendFramed(socket: WebSocket, stdin: Readable, closed: Promise<void>): Promise<void> {
  let open = true;
  void closed.then(() => { open = false; });
  const send = (buffer: Buffer) => new Promise<void>((resolve, reject) => socket.send(buffer, (err?: Error) => (err ? reject(err) : resolve())));
  for await (const chunk of stdin) {
    if (!open) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer;
    if (bytes.length > 0) await send(stdinFrame(bytes));
  }
  if (open) await send(Buffer.concat([Buffer.from([STDIN_CHANNEL]), Buffer.from('0\n')]));
}

function endOf(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableFinished) return resolve();
    stream.once('finish', () => resolve());
    stream.once('error', () => resolve());
    stream.once('close', () => resolve());
    stream.end();
  });
}
