// logs [-t] [-n N] [--process TYPE] [--instance web.2] [--since 2h] [--until 1h] [--grep TEXT]
import { appPath } from '../client.ts';
import { stringFlag, type Command, type CommandContext } from '../command.ts';
import { parseCount } from '../parse.ts';
import type { LogLine } from '../../wire/types.ts';

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

// Each of these makes the server read its log store instead of the engine's recent output.
const STORE_FLAGS = ['since', 'until', 'grep'] as const;

function logsPath(ctx: CommandContext, follow: boolean): string {
  const lines = stringFlag(ctx, 'num');
  const fromStore = STORE_FLAGS.some((flag) => stringFlag(ctx, flag) !== undefined);
  const query = new URLSearchParams();
  if (fromStore) {
    for (const flag of STORE_FLAGS) {
      const value = stringFlag(ctx, flag);
      if (value !== undefined) query.set(flag, value);
    }
    if (lines !== undefined) query.set('limit', String(parseCount(lines, '-n')));
  } else {
    query.set('tail', String(lines === undefined ? DEFAULT_LINES : parseCount(lines, '-n')));
  }
  const instance = stringFlag(ctx, 'instance');
  if (instance !== undefined) query.set('instance', instance);
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
    usage: 'APP [-t] [-n N] [-p TYPE] [-i web.2] [--since 2h|ISO] [--until 1h|ISO] [-g TEXT] [--json]',
    summary: `show the last N (default ${DEFAULT_LINES}) log lines of the past day from all of the app's instances, ` +
      'including ones that are gone (a failed deploy\'s); -t prints the live instances\' last N lines and keeps following them; ' +
      '--since/--until/--grep search the stored log, router lines included (durations back from now like 30s, 15m, 2h, 3d, ' +
      'or ISO times; -n then caps the lines); -t is --tail, -p --process, -i --instance, -g --grep; ' +
      '--json prints one JSON object per line (time, process, index, stream, line)',
    app: true,
    options: {
      tail: { type: 'boolean', short: 't' },
      num: { type: 'string', short: 'n' },
      process: { type: 'string', short: 'p' },
      instance: { type: 'string', short: 'i' },
      since: { type: 'string' },
      until: { type: 'string' },
      grep: { type: 'string', short: 'g' },
    },
    run: showLogs,
  },
];
