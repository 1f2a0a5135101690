// addons, addons:create, addons:info, addons:attach, addons:detach, addons:destroy (addons:connect: addons-connect.ts)
import { appPath } from '../client.ts';
import { CliError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { keyValues, table } from '../format.ts';
import type { Addon, AddonChange, AddonInfo } from '../../wire/types.ts';
import { addonsConnectCommand } from './addons-connect.ts';

const addonPath = (ctx: CommandContext, name: string, rest = ''): string => appPath(ctx.app, `/addons/${encodeURIComponent(name)}${rest}`);

function attachedAs(addon: Addon): string {
  return addon.attachedAs.map((a) => `${a.app}:${a.as}`).join(', ') || '-';
}

function releaseText(change: AddonChange): string {
  return change.release === null ? `done; ${change.var} takes effect with the first deploy` : `done, ${change.var} set in v${change.release}`;
}

async function listAddons(ctx: CommandContext): Promise<void> {
  const addons = await ctx.api().get<Addon[]>(appPath(ctx.app, '/addons'));
  if (printedJson(ctx, addons)) return;
  if (addons.length === 0) return ctx.io.out(`${ctx.app} has no add-ons.`);
  const rows = addons.map((a) => [a.kind, a.name, a.status, a.memoryMB === null ? '-' : `${a.memoryMB}M`, attachedAs(a)]);
  table(['KIND', 'NAME', 'STATUS', 'MEMORY', 'ATTACHED AS'], rows).forEach((line) => ctx.io.out(line));
}

async function createAddon(ctx: CommandContext): Promise<void> {
  const kind = ctx.args[0];
  const body = { kind, name: stringFlag(ctx, 'name'), size: stringFlag(ctx, 'size') };
  const created = await withProgress(ctx, `Creating a ${kind} add-on for ${ctx.app}`, (api) =>
    api.post<AddonChange>(appPath(ctx.app, '/addons'), body), releaseText);
  if (printedJson(ctx, created)) return;
  ctx.io.out(`${created.addon.name} is up; "berth addons:info ${ctx.app} ${created.addon.name}" shows how to connect.`);
}

async function addonInfo(ctx: CommandContext): Promise<void> {
  const reveal = ctx.flags.reveal === true ? '?reveal=true' : '';
  const info = await ctx.api().get<AddonInfo>(addonPath(ctx, ctx.args[0]!) + reveal);
  if (printedJson(ctx, info)) return;
  keyValues([
    ['Name', info.name], ['Kind', info.kind], ['Created by app', info.app ?? '(outside service)'], ['Status', info.status],
    ['Memory', info.memoryMB === null ? '-' : `${info.memoryMB}M`], ['Attached as', attachedAs(info)], [info.var, info.url],
  ]).forEach((line) => ctx.io.out(line));
}

async function attachAddon(ctx: CommandContext): Promise<void> {
  const url = stringFlag(ctx, 'url');
  const name = ctx.args[0];
  if ((url === undefined) === (name === undefined)) throw new CliError('give either an add-on name or --url URL (an outside service)');
  const body = { name, url, as: stringFlag(ctx, 'as') };
  const label = url === undefined ? `Attaching ${name} to ${ctx.app}` : `Attaching an outside service to ${ctx.app}`;
  const attached = await withProgress(ctx, label, (api) => api.post<AddonChange>(appPath(ctx.app, '/addons/attach'), body), releaseText);
  printedJson(ctx, attached);
}

async function detachAddon(ctx: CommandContext): Promise<void> {
  const name = ctx.args[0]!;
  const detached = await withProgress(ctx, `Detaching ${name} from ${ctx.app}`, (api) =>
    api.delete<AddonChange>(addonPath(ctx, name, '/attachment')), (c) => (c.release === null ? 'done' : `done, ${c.var} unset in v${c.release}`));
  printedJson(ctx, detached);
}

/** The data goes with it, so the server wants the name typed again (--confirm NAME); its backups too unless --keep-backups. */
async function destroyAddon(ctx: CommandContext): Promise<void> {
  const name = ctx.args[0]!;
  const answer = await withProgress(ctx, `Destroying ${name} and its data`, (api) =>
    api.delete<{ destroyed: string }>(addonPath(ctx, name), { confirm: stringFlag(ctx, 'confirm'), keepBackups: ctx.flags['keep-backups'] === true }));
  printedJson(ctx, answer);
}

export const addonCommands: Command[] = [
  { name: 'addons', usage: 'APP', summary: 'list an app\'s add-ons (data services) and outside services', app: true, run: listAddons },
  {
    name: 'addons:create', usage: 'APP postgres|redis|mysql [--name NAME] [--size 1G]', summary: 'start a data service for an app and set its URL var',
    app: true, args: [1, 1], options: { name: { type: 'string' }, size: { type: 'string' } }, run: createAddon,
  },
  {
    name: 'addons:info', usage: 'APP NAME [--reveal]', summary: 'how the app connects to an add-on (password masked unless --reveal)',
    app: true, args: [1, 1], options: { reveal: { type: 'boolean' } }, run: addonInfo,
  },
  {
    name: 'addons:attach', usage: 'APP NAME [--as VAR] | APP --url URL [--as VAR]', summary: 'share an add-on with another app, or bind an outside service',
    app: true, args: [0, 1], options: { as: { type: 'string' }, url: { type: 'string' } }, run: attachAddon,
  },
  { name: 'addons:detach', usage: 'APP NAME', summary: 'remove an attached add-on (or outside service, by its var) from an app', app: true, args: [1, 1], run: detachAddon },
  {
    name: 'addons:destroy', usage: 'APP NAME --confirm NAME [--keep-backups]', summary: 'remove an add-on and its data (and its backups unless --keep-backups)',
    app: true, args: [1, 1], options: { confirm: { type: 'string' }, 'keep-backups': { type: 'boolean' } }, run: destroyAddon,
  },
  addonsConnectCommand,
];
