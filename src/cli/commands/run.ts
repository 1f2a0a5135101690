// berth run APP [--size 512M] [--type worker] [--timeout 30m] -- CMD ARGS...: CMD in a fresh one-off of the
// current release with the app's config, over the API's websocket. With a terminal on stdin it gets a TTY
// (raw keys, Ctrl-C reaches the command as the terminal's interrupt, window resizes follow); without one,
// stdout and stderr stay apart (frames tagged RUN_STDOUT or RUN_STDERR) and Ctrl-C is sent as SIGINT (a second one drops the connection, which kills it).
// `berth run` exits with the command's exit code. --detach starts it and returns: its output goes to the
// app's log (`berth logs APP -p run`).
import WebSocket from 'ws';
import { appPath } from '../client.ts';
import { CliError, CommandExit, printedJson, stringFlag, type Command, type CommandContext } from '../command.ts';
import { parseSize } from '../parse.ts';
import { parseDurationMs } from '../../shared/duration.ts';
import { RUN_ERROR_HEADER, RUN_STDERR, type RunControl, type RunEvent } from '../../wire/types.ts';

/** --size, --type and --timeout as the API takes them. */
function limits(ctx: CommandContext): { memoryMB?: number; type?: string; timeout?: number } {
  const out: { memoryMB?: number; type?: string; timeout?: number } = {};
  const size = stringFlag(ctx, 'size');
  if (size !== undefined) {
    const { memoryMB } = parseSize(size);
    if (memoryMB === null) throw new CliError(`--size takes memory, e.g. 512M or 1G, not "${size}"`);
    out.memoryMB = memoryMB;
  }
  const type = stringFlag(ctx, 'type');
  if (type !== undefined) out.type = type;
  const timeout = stringFlag(ctx, 'timeout');
  if (timeout !== undefined) {
    const ms = parseDurationMs(timeout);
    if (ms === null || ms < 1000) throw new CliError(`--timeout takes a duration like 90s, 30m or 2h, not "${timeout}"`);
    out.timeout = Math.round(ms / 1000);
  }
  return out;
}

function runUrl(ctx: CommandContext, tty: boolean): string {
  const api = ctx.api();
  const url = new URL(api.baseUrl + appPath(ctx.app, '/run'));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('command', JSON.stringify(ctx.args));
  if (tty) {
    url.searchParams.set('tty', '1');
    url.searchParams.set('cols', String(process.stdout.columns || 80));
    url.searchParams.set('rows', String(process.stdout.rows || 24));
  }
  for (const [name, value] of Object.entries(limits(ctx))) url.searchParams.set(name, String(value));
  return url.toString();
}

async function detached(ctx: CommandContext): Promise<void> {
  const started = await ctx.api().post<{ name: string }>(appPath(ctx.app, '/runs'), { command: ctx.args, ...limits(ctx) });
  if (printedJson(ctx, started)) return;
  ctx.io.out(`Running ${ctx.args.join(' ')} as ${started.name}, detached: see its output with "berth logs ${ctx.app} -p run".`);
}

async function run(ctx: CommandContext): Promise<void> {
  if (ctx.flags.detach === true) return detached(ctx);
  const tty = Boolean(process.stdin.isTTY);
  const url = runUrl(ctx, tty);
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${ctx.api().token}` } });
  const code = await new Promise<number>((resolve, reject) => {
    let exitCode: number | null = null;
    let failure: string | null = null;
    const control = (msg: RunControl) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); };
    const onResize = () => control({ type: 'resize', cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 });
    let interrupts = 0;
    const onSigint = () => { if (++interrupts > 1) ws.terminate(); else control({ type: 'signal', signal: 'SIGINT' }); };
    const onInput = (chunk: Buffer) => { if (ws.readyState === WebSocket.OPEN) ws.send(chunk); };
    const onInputEnd = () => control({ type: 'eof' });
    const restore = () => {
      process.stdin.off('data', onInput).off('end', onInputEnd);
      process.stdin.pause();
      process.stdout.off('resize', onResize);
      process.off('SIGINT', onSigint);
      if (tty) process.stdin.setRawMode(false);
    };

    ws.on('unexpected-response', (_req, res) => {
      const header = res.headers[RUN_ERROR_HEADER.toLowerCase()];
      const message = typeof header === 'string' ? safeDecode(header) : `the server refused (${res.statusCode})`;
      res.resume();
      reject(new CliError(message));
    });
    ws.on('error', (err) => reject(new CliError(`lost the connection to the run: ${err.message}`)));
    ws.on('open', () => {
      if (tty) {
        process.stdin.setRawMode(true);
        process.stdout.on('resize', onResize);
      } else {
        process.on('SIGINT', onSigint);
        process.stdin.on('end', onInputEnd);
      }
      process.stdin.on('data', onInput);
      process.stdin.resume();
    });
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        (buf[0] === RUN_STDERR ? process.stderr : process.stdout).write(buf.subarray(1));
        return;
      }
      const event = JSON.parse(buf.toString('utf8')) as RunEvent;
      if (event.type === 'exit') exitCode = event.code;
      if (event.type === 'error') failure = event.message;
    });
    ws.on('close', () => {
      restore();
      if (exitCode !== null) resolve(exitCode);
      else reject(new CliError(failure ?? 'the run ended without an exit code (connection lost)'));
    });
  });
  if (code !== 0) throw new CommandExit(code);
}

function safeDecode(text: string): string {
  try { return decodeURIComponent(text); } catch { return text; }
}

export const runCommand: Command = {
  name: 'run',
  usage: 'APP [--size 512M] [--type TYPE] [--timeout 30m] [--detach] -- CMD [ARGS...]',
  summary: 'run a command in a fresh one-off of the current release (a TTY when stdin is one); exits with its code',
  app: true,
  args: [1, Number.POSITIVE_INFINITY],
  options: { size: { type: 'string' }, type: { type: 'string' }, timeout: { type: 'string' }, detach: { type: 'boolean' } },
  run,
};

