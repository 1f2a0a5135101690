// Runs `git http-backend` as a CGI program: the request body streams into it (capped), its CGI
// header block becomes the response status and headers, and the rest streams out as the body, so
// hook output reaches the pusher while the deploy is still running.
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable, Transform, pipeline, type Writable } from 'node:stream';

export interface CgiCall {
  env: Record<string, string>;
  body: ReadableStream<Uint8Array> | null;
  maxBodyBytes: number;
  /** Aborts when the client goes away: the backend (and the hook it runs) is stopped. */
  signal: AbortSignal;
  log: (line: string) => void;
}

/** too-large keeps the body's first bytes: enough to read a push's commands and refuse it properly. */
export type CgiOutcome = { kind: 'response'; response: Response } | { kind: 'too-large'; bodyStart: Buffer };

interface CgiHead { status: number; headers: Headers }

const MAX_HEAD_BYTES = 64 * 1024;
const BODY_START_BYTES = 64 * 1024;
const KILL_GRACE_MS = 5_000;
/** Past the cap we keep reading (and dropping) this much so the client gets to read our answer. */
const MAX_DISCARD_BYTES = 1024 * 1024 * 1024;

export async function runHttpBackend(call: CgiCall): Promise<CgiOutcome> {
  const body = call.body ? new CountedBody(call.body) : null;
  if (body && Number(call.env.CONTENT_LENGTH) > call.maxBodyBytes) {
    // Announced too large: no backend at all, only the start of the body to say no properly.
    await body.readStart(BODY_START_BYTES);
    body.discardRest();
    return { kind: 'too-large', bodyStart: body.start() };
  }
  // Its own process group: stopping it must also stop receive-pack, index-pack and the hook.
  const child = spawn('git', ['http-backend'], { env: call.env, detached: true, stdio: 'pipe' });
  const stop = () => stopGroup(child);
  child.on('error', (err) => call.log(`git http-backend could not start: ${err.message}`));
  call.signal.addEventListener('abort', stop, { once: true });
  const stderr = keepTail(child.stderr);
  child.on('close', (code) => {
    call.signal.removeEventListener('abort', stop);
    if (code) call.log(`git http-backend ${call.env.PATH_INFO} exited with ${code}: ${stderr().trim()}`);
  });

  let abandoned = false;
  const output = splitCgiOutput(child.stdout, () => { if (!abandoned) stop(); });
  // git speaks strictly request-then-response over HTTP, so holding the answer until the whole
  // body is in costs nothing, and lets an oversized push still get a proper answer.
  if (body && await feed(body, child.stdin, call.maxBodyBytes) === 'too-large') {
    abandoned = true;
    call.signal.removeEventListener('abort', stop);
    abandon(child, output, stop);
    return { kind: 'too-large', bodyStart: body.start() };
  }
  if (!body) child.stdin.end();
  const head = await output.head;
  const nullBody = head.status === 204 || head.status === 304;
  return { kind: 'response', response: new Response(nullBody ? null : output.body, head) };
}

/**
 * Lets the backend fail on its own: a pack cut short makes receive-pack delete its quarantine,
 * which it does not do when killed by a signal. Its answer is read and dropped; we answer instead.
 */
function abandon(child: ChildProcess, output: CgiOutput, stop: () => void): void {
  child.stdin!.end();
  output.head.catch(() => {});
  void (async () => { for await (const _ of output.body) { /* dropped */ } })().catch(() => {});
  setTimeout(stop, KILL_GRACE_MS).unref();
}

/** Copies the body into the backend; stops early when the backend stops reading (it answered). */
async function feed(body: CountedBody, stdin: Writable, max: number): Promise<'done' | 'too-large'> {
  stdin.on('error', () => { /* EPIPE: the backend answered without reading everything */ });
  try {
    for (let chunk = await body.read(); chunk; chunk = await body.read()) {
      if (body.total > max) { body.discardRest(); return 'too-large'; }
      if (stdin.destroyed) break;
      if (!stdin.write(chunk)) await drained(stdin);
    }
  } catch { /* the client went away mid-body; the backend sees a short body and gives up */ }
  stdin.end();
  return 'done';
}

/** The request body, read chunk by chunk, counting bytes and keeping the first ones. */
class CountedBody {
  total = 0;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly first: Buffer[] = [];

  constructor(stream: ReadableStream<Uint8Array>) { this.reader = stream.getReader(); }

  async read(): Promise<Uint8Array | null> {
    const { done, value } = await this.reader.read();
    if (done) return null;
    if (this.total < BODY_START_BYTES) this.first.push(Buffer.from(value));
    this.total += value.byteLength;
    return value;
  }

  async readStart(bytes: number): Promise<void> {
    while (this.total < bytes && await this.read().catch(() => null));
  }

  start(): Buffer { return Buffer.concat(this.first).subarray(0, BODY_START_BYTES); }

  /** Drops the rest in the background; past MAX_DISCARD_BYTES, hangs up. */
  discardRest(): void {
    const reader = this.reader;
    void (async () => {
      let dropped = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        dropped += value.byteLength;
        if (dropped > MAX_DISCARD_BYTES) return reader.cancel();
      }
    })().catch(() => { /* the client hung up: nothing left to drop */ });
  }
}

const drained = (stream: Writable): Promise<void> => new Promise((resolve) => {
  const done = () => { stream.off('drain', done); stream.off('close', done); resolve(); };
  stream.on('drain', done);
  stream.on('close', done);
});

interface CgiOutput { head: Promise<CgiHead>; body: ReadableStream<Uint8Array> }

/** Separates the CGI header block from the body; the body streams as it is produced. */
function splitCgiOutput(stdout: Readable, onBroken: () => void): CgiOutput {
  let resolveHead!: (head: CgiHead) => void;
  let rejectHead!: (err: Error) => void;
  const head = new Promise<CgiHead>((resolve, reject) => { resolveHead = resolve; rejectHead = reject; });
  let pending: Buffer | null = Buffer.alloc(0);
  const splitter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (pending === null) return done(null, chunk);
      pending = Buffer.concat([pending, chunk]);
      const end = headEnd(pending);
      if (!end) return done(pending.length > MAX_HEAD_BYTES ? new Error('CGI header block too long') : null);
      resolveHead(parseHead(pending.subarray(0, end.head).toString('latin1')));
      const rest = pending.subarray(end.body);
      pending = null;
      if (rest.length > 0) this.push(rest);
      done();
    },
    flush(done) {
      if (pending !== null) rejectHead(new Error('git http-backend ended without sending headers'));
      done();
    },
  });
  pipeline(stdout, splitter, (err) => {
    if (!err) return;
    rejectHead(err);   // no-op once the head was parsed
    onBroken();        // the client stopped reading or the output broke: stop the backend
  });
  return { head, body: Readable.toWeb(splitter) as ReadableStream<Uint8Array> };
}

function headEnd(buf: Buffer): { head: number; body: number } | null {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { head: crlf, body: crlf + 4 };
  return lf >= 0 ? { head: lf, body: lf + 2 } : null;
}

function parseHead(text: string): CgiHead {
  const headers = new Headers();
  let status = 200;
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers.append(name, value);
  }
  return { status, headers };
}

function stopGroup(child: ChildProcess): void {
  const alive = () => child.exitCode === null && child.signalCode === null;
  if (!child.pid || !alive()) return;
  const signalGroup = (signal: NodeJS.Signals) => { try { process.kill(-child.pid!, signal); } catch { /* gone */ } };
  // A killed receive-pack leaves its quarantine directory behind; Repos sweeps stale ones.
  signalGroup('SIGTERM');
  setTimeout(() => { if (alive()) signalGroup('SIGKILL'); }, KILL_GRACE_MS).unref();
}

function keepTail(stream: Readable, max = 4096): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => { text = (text + chunk).slice(-max); });
  return () => text;
}
