// The pre-receive hook process (`node <server entry> git-hook`, started by git receive-pack). It
// hands the push to the Berth server over HTTP on its private unix socket and relays the server's lines to the pusher
// as they arrive (git shows them as `remote: …`). Exit 0 accepts the push, anything else rejects it.
import http from 'node:http';
import path from 'node:path';
import { ACCEPT_MARKER, HOOK_ENV, HOOK_TOKEN_HEADER, QUARANTINE_VARS, parseRefLines, type HookRequest } from './protocol.ts';

/** Runs the hook; resolves with its exit code, also set as process.exitCode. */
export async function runPreReceiveHook(
  env: NodeJS.ProcessEnv = process.env,
  stdin: NodeJS.ReadableStream = process.stdin,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const code = await decide(env, stdin, out);
  process.exitCode = code;
  return code;
}

async function decide(env: NodeJS.ProcessEnv, stdin: NodeJS.ReadableStream, out: (line: string) => void): Promise<number> {
  const socketPath = env[HOOK_ENV.socket];
  const token = env[HOOK_ENV.token];
  if (!socketPath || !token) {
    out('Push rejected: this repository only accepts pushes through the Berth server.');
    return 1;
  }
  const request: HookRequest = { updates: parseRefLines(await readAll(stdin)), env: forwardedEnv(env) };
  try {
    const lastLine = await postAndRelay(socketPath, token, request, out);
    return lastLine === ACCEPT_MARKER ? 0 : 1;
  } catch (err) {
    out(err instanceof AnswerCutShort
      ? 'Push rejected: the connection to the Berth server broke before it decided. Try again in a moment.'
      : `Push rejected: the Berth server could not be reached (${(err as Error).message}). Try again in a moment.`);
    return 1;
  }
}

/** Paths made absolute: the server runs `git archive` with them from its own working directory. */
function forwardedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const name of QUARANTINE_VARS) {
    const value = name === 'GIT_DIR' ? env.GIT_DIR ?? '.' : env[name];
    if (value === undefined || value === '') continue;
    forwarded[name] = name === 'GIT_ALTERNATE_OBJECT_DIRECTORIES'
      ? value.split(path.delimiter).map((dir) => path.resolve(dir)).join(path.delimiter)
      : path.resolve(value);
  }
  forwarded[HOOK_ENV.app] = env[HOOK_ENV.app] ?? '';
  forwarded[HOOK_ENV.user] = env[HOOK_ENV.user] ?? '';
  return forwarded;
}

/**
 * POSTs the request and prints each response line as soon as it is complete; resolves with the
 * last line. node:http rather than fetch: a quiet build step must not hit fetch's body timeout.
 */
function postAndRelay(socketPath: string, token: string, request: HookRequest, out: (line: string) => void): Promise<string> {
  const body = JSON.stringify(request);
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath,
      path: '/',
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), [HOOK_TOKEN_HEADER]: token },
    }, (res) => {
      const relay = lineRelay(out);
      if (res.statusCode !== 200) relay.line(`Push rejected: the Berth server answered HTTP ${res.statusCode}.`);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => relay.push(chunk));
      res.on('end', () => resolve(relay.finish()));
      res.on('error', reject);
      res.on('close', () => { if (!res.complete) reject(new AnswerCutShort()); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

class AnswerCutShort extends Error {}

/** Splits a text stream into lines, prints all but the marker, remembers the last one. */
function lineRelay(out: (line: string) => void) {
  let partial = '';
  let last = '';
  const line = (text: string) => {
    last = text;
    if (text !== ACCEPT_MARKER) out(text);
  };
  return {
    line,
    push(chunk: string) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const text of lines) line(text);
    },
    finish(): string {
      if (partial !== '') line(partial);
      return last;
    },
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}
