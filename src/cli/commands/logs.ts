// logs [-t] [-n N] [--process TYPE]
import { appPath } from '../client.ts';
import { stringFlag, type Command, type CommandContext } from '../command.ts';
import { parseCount } from '../parse.ts';
import type { LogLine } from '../types.ts';

const DEFAULT_LINES = 100;

/** Heroku's format: `2026-11-25T17:00:00.123Z app[web.1]: listening` */
export function formatLogLine(log: LogLine): string {
  const source = log.index === null || log.index === undefined ? log.process : `${log.process}.${log.index}`;
  return `${log.time} app[${source}]: ${log.line}`;
}

/** `--process web` matches every web instance, `--process web.2` just that one. */
function processFilter(wanted: string | undefined): (log: LogLine) => boolean {
  if (!wanted) return () => true;
  return (log) => log.process === wanted || `${log.process}.${log.index}` === wanted;
}

function logsPath(ctx: CommandContext, follow: boolean): string {
  const lines = stringFlag(ctx, 'num');
  const query = new URLSearchParams({ tail: String(lines === undefined ? DEFAULT_LINES : parseCount(lines, '-n')) });
  if (follow) query.set('follow', '1');
  return appPath(ctx.app, `/logs?${query}`);
}

async function showLogs(ctx: CommandContext): Promise<void> {
  const follow = ctx.flags.tail === true;
  const path = logsPath(ctx, follow);
  const wanted = processFilter(stringFlag(ctx, 'process'));
  // Ctrl-C is how a follow ends; that is success, not an error exit.
  if (follow) process.once('SIGINT', () => process.exit(0));
  for await (const log of ctx.api().stream<LogLine>(path)) {
    if (!wanted(log)) continue;
    ctx.io.out(ctx.json ? JSON.stringify(log) : formatLogLine(log));
  }
}

export const logsCommands: Command[] = [
  {
    name: 'logs',
    usage: 'APP [-t|--tail] [-n N] [-p|--process TYPE]',
    summary: `show the last N (default ${DEFAULT_LINES}) log lines; -t keeps following them`,
    app: true,
    options: {
      tail: { type: 'boolean', short: 't' },
      num: { type: 'string', short: 'n' },
      process: { type: 'string', short: 'p' },
    },
    run: showLogs,
  },
];
