// addons:connect: psql / redis-cli / mysql inside the service's container with a TTY, over the web console
// terminal's websocket (src/web/terminal.ts): JSON text frames {type:"input",data} / {type:"resize"} out,
// the client's output as binary frames and a final {type:"exit"} (or {type:"error"}) in.
import WebSocket from 'ws';
import { appPath } from '../client.ts';
import { CliError, type Command, type CommandContext } from '../command.ts';
import { RUN_ERROR_HEADER } from '../../wire/types.ts';

function connectUrl(ctx: CommandContext, name: string): string {
  const url = new URL(ctx.api().baseUrl + appPath(ctx.app, `/addons/${encodeURIComponent(name)}/connect`));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('cols', String(process.stdout.columns || 80));
  url.searchParams.set('rows', String(process.stdout.rows || 24));
  return url.toString();
}

async function connect(ctx: CommandContext): Promise<void> {
  const tty = Boolean(process.stdin.isTTY);
  const ws = new WebSocket(connectUrl(ctx, ctx.args[0]!), { headers: { authorization: `Bearer ${ctx.api().token}` } });
  await new Promise<void>((resolve, reject) => {
    let failure: string | null = null;
    let exited = false;
    const send = (msg: object) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); };
    const onInput = (chunk: Buffer) => send({ type: 'input', data: chunk.toString('utf8') });
    // Piped input ran out: the TTY's end-of-file (Ctrl-D) lets the client finish on its own.
    const onInputEnd = () => send({ type: 'input', data: '\x04' });
    const onResize = () => send({ type: 'resize', cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 });
    const restore = () => {
      process.stdin.off('data', onInput).off('end', onInputEnd);
      process.stdin.pause();
      process.stdout.off('resize', onResize);
      if (tty) process.stdin.setRawMode(false);
    };
    ws.on('unexpected-response', (_req, res) => {
      const header = res.headers[RUN_ERROR_HEADER.toLowerCase()];
      let message = `the server refused (${res.statusCode})`;
      try { if (typeof header === 'string') message = decodeURIComponent(header); } catch { /* as sent */ }
      res.resume();
      reject(new CliError(message));
    });
    ws.on('error', (err) => reject(new CliError(`lost the connection: ${err.message}`)));
    ws.on('open', () => {
      if (tty) {
        process.stdin.setRawMode(true);
        process.stdout.on('resize', onResize);
      } else {
        process.stdin.on('end', onInputEnd);
      }
      process.stdin.on('data', onInput);
      process.stdin.resume();
    });
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      if (isBinary) return void process.stdout.write(buf);
      const event = JSON.parse(buf.toString('utf8')) as { type: string; message?: string };
      if (event.type === 'exit') exited = true;
      if (event.type === 'error') failure = event.message ?? 'the client could not start';
    });
    ws.on('close', () => {
      restore();
      if (failure !== null) reject(new CliError(failure));
      else if (exited) resolve();
      else reject(new CliError('the connection ended before the client did'));
    });
  });
}

export const addonsConnectCommand: Command = {
  name: 'addons:connect', usage: 'APP NAME', summary: 'psql / redis-cli / mysql inside an add-on\'s service, with a TTY',
  app: true, args: [1, 1], run: connect,
};
