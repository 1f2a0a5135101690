// config, config:get, config:set, config:unset
import { appPath } from '../client.ts';
import { CliError, printedJson, withProgress, type Command, type CommandContext } from '../command.ts';
import { formatVersion, keyValues, shellAssignment } from '../format.ts';
import { readFile } from 'node:fs/promises';
import { resolveConfigChanges, type ValueSources } from '../config-input.ts';
import type { ConfigVars, Release } from '../../wire/types.ts';

interface ConfigChange {
  config: ConfigVars;
  release: Release | null; // no release when the app was never deployed
}

function getConfig(ctx: CommandContext): Promise<ConfigVars> {
  return ctx.api().get<ConfigVars>(appPath(ctx.app, '/config'));
}

function sortedEntries(vars: ConfigVars): Array<[string, string]> {
  return Object.entries(vars).sort(([a], [b]) => a.localeCompare(b));
}

async function showConfig(ctx: CommandContext): Promise<void> {
  const vars = await getConfig(ctx);
  if (printedJson(ctx, vars)) return;
  const entries = sortedEntries(vars);
  if (ctx.flags.shell) return entries.forEach(([key, value]) => ctx.io.out(shellAssignment(key, value)));
  if (entries.length === 0) return ctx.io.out(`${ctx.app} has no config vars.`);
  keyValues(entries).forEach((line) => ctx.io.out(line));
}

async function getConfigVar(ctx: CommandContext): Promise<void> {
  const key = ctx.args[0];
  const vars = await getConfig(ctx);
  if (!Object.hasOwn(vars, key)) throw new CliError(`config var "${key}" is not set on ${ctx.app}`);
  if (printedJson(ctx, vars[key])) return;
  ctx.io.out(vars[key]);
}

/** Sends the change; the server makes a new release when the app is running, reported as vN. */
async function changeConfig(ctx: CommandContext, verb: string, changes: Record<string, string | null>): Promise<ConfigChange> {
  const keys = Object.keys(changes).join(', ');
  // --no-review: set and kept out of review apps in one change, so no review app is made in between with them.
  const query = ctx.flags['no-review'] === true ? '?noReview=true' : '';
  return withProgress(
    ctx,
    `${verb} ${keys} and restarting ${ctx.app}`,
    (api) => api.patch<ConfigChange>(appPath(ctx.app, `/config${query}`), changes),
    (answer) => (answer.release ? `done, ${formatVersion(answer.release.version)}` : 'stored; it takes effect with the first deploy'),
  );
}

const localSources: ValueSources = {
  readFile: (path) => readFile(path),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  },
};

async function setConfig(ctx: CommandContext): Promise<void> {
  const changes = await resolveConfigChanges(ctx.args, !process.stdin.isTTY, localSources);
  const answer = await changeConfig(ctx, 'Setting', changes);
  if (printedJson(ctx, answer)) return;
  // A certificate read with KEY=@file would fill the screen: multi-line values are summarised.
  const shown = sortedEntries(changes).map(([key, value]): [string, string] =>
    [key, value.includes('\n') ? `(${value.split('\n').length} lines)` : value]);
  keyValues(shown).forEach((line) => ctx.io.out(line));
}

async function unsetConfig(ctx: CommandContext): Promise<void> {
  const changes = Object.fromEntries(ctx.args.map((key) => [key, null]));
  const answer = await changeConfig(ctx, 'Unsetting', changes);
  printedJson(ctx, answer);
}

const MANY = Number.POSITIVE_INFINITY;

export const configCommands: Command[] = [
  {
    name: 'config',
    usage: 'APP [--shell]',
    summary: 'show config vars (--shell: as KEY=value lines)',
    app: true,
    options: { shell: { type: 'boolean', short: 's' } },
    run: showConfig,
  },
  { name: 'config:get', usage: 'APP KEY', summary: 'print one config var', app: true, args: [1, 1], run: getConfigVar },
  {
    name: 'config:set',
    usage: 'APP [KEY=VALUE...] [--no-review]',
    summary: 'set config vars and restart the app; KEY=@FILE reads the value from a file, KEY=@- from ' +
      'stdin (@@ for a literal @); with no KEY=VALUE, .env lines are read from stdin; --no-review: review apps get no copy',
    app: true,
    args: [0, MANY],
    options: { 'no-review': { type: 'boolean' } },
    run: setConfig,
  },
  {
    name: 'config:unset',
    usage: 'APP KEY...',
    summary: 'remove config vars and restart the app',
    app: true,
    args: [1, MANY],
    run: unsetConfig,
  },
];
