// ps, ps:scale, ps:resize, ps:restart
import { appPath } from '../client.ts';
import { printedJson, withProgress, type Command, type CommandContext } from '../command.ts';
import { formatFormation, formatVersion, listSentence, relativeTime, table } from '../format.ts';
import { parseResizeArg, parseScaleArg, rejectDuplicateTypes } from '../parse.ts';
import type { Formation, FormationUpdate, Instance } from '../../wire/types.ts';
import type { AutoscaledFormation } from '../../wire/autoscale.ts';
import { psStopCommand } from './stopping.ts';
import { runCommand } from './run.ts';
import { autoscaleCommand } from './autoscale.ts';

async function listInstances(ctx: CommandContext): Promise<void> {
  const instances = await ctx.api().get<Instance[]>(appPath(ctx.app, '/ps'));
  if (printedJson(ctx, instances)) return;
  if (instances.length === 0) return ctx.io.out(`No instances of ${ctx.app} are running.`);
  const rows = instances.map((instance) => [
    instance.name,
    instance.state,
    formatVersion(instance.release),
    instance.hostPort === null ? '-' : `${instance.host}:${instance.hostPort}`,
    relativeTime(instance.startedAt),
    String(instance.restartCount),
  ]);
  table(['NAME', 'STATE', 'RELEASE', 'ADDRESS', 'STARTED', 'RESTARTS'], rows).forEach((line) => ctx.io.out(line));
}

function printFormation(ctx: CommandContext, formation: Formation[]): void {
  if (printedJson(ctx, formation)) return;
  ctx.io.out(formation.length ? formation.map(formatFormation).join(' ') : `${ctx.app} has no process types yet.`);
}

function patchFormation(ctx: CommandContext, label: string, updates: FormationUpdate[]): Promise<Formation[]> {
  return withProgress(
    ctx,
    label,
    (api) => api.patch<Formation[]>(appPath(ctx.app, '/formation'), { updates }),
    (formation) => `done, now running ${formation.map(formatFormation).join(' ')}`,
  );
}

/** Without arguments it shows the formation, the same TYPE=QTY:SIZE syntax it accepts. */
async function scale(ctx: CommandContext): Promise<void> {
  if (ctx.args.length === 0) {
    return printFormation(ctx, await ctx.api().get<Formation[]>(appPath(ctx.app, '/formation')));
  }
  const updates = rejectDuplicateTypes(ctx.args.map(parseScaleArg));
  const formation: AutoscaledFormation[] = await patchFormation(ctx, `Scaling ${ctx.app}`, updates);
  if (printedJson(ctx, formation)) return;
  for (const f of formation) {
    if (!f.autoscale || !updates.some((u) => u.type === f.type && u.quantity !== undefined)) continue;
    ctx.io.out(`${f.type} is autoscaled: ps:scale set its minimum, the range is now ${f.autoscale.min}-${f.autoscale.max} ` +
      `and the autoscaler picks the count within it. To scale by hand: berth ps:autoscale ${ctx.app} ${f.type} --off`);
  }
}

async function resize(ctx: CommandContext): Promise<void> {
  const updates = rejectDuplicateTypes(ctx.args.map(parseResizeArg));
  const formation = await patchFormation(ctx, `Resizing ${listSentence(updates.map((u) => u.type))} on ${ctx.app}`, updates);
  printedJson(ctx, formation);
}

async function restart(ctx: CommandContext): Promise<void> {
  const type = ctx.args[0];
  const what = type ? `${type} processes` : 'all processes';
  const instances = await withProgress(ctx, `Restarting ${what} of ${ctx.app}`, (api) =>
    api.post<Instance[]>(appPath(ctx.app, '/ps/restart'), type ? { type } : {}),
  );
  printedJson(ctx, instances);
}

const MANY = Number.POSITIVE_INFINITY;

export const psCommands: Command[] = [
  { name: 'ps', usage: 'APP', summary: 'list running instances', app: true, run: listInstances },
  {
    name: 'ps:scale',
    usage: 'APP [TYPE=QTY[:SIZE]...]',
    summary: 'set instance counts and sizes, e.g. web=3 worker=1:512M/0.5 (no args: show)',
    app: true,
    args: [0, MANY],
    run: scale,
  },
  {
    name: 'ps:resize',
    usage: 'APP TYPE=SIZE...',
    summary: 'set memory and cpus per instance, e.g. web=512M or web=1G/2',
    app: true,
    args: [1, MANY],
    run: resize,
  },
  { name: 'ps:restart', usage: 'APP [TYPE]', summary: 'restart all instances, or those of one type', app: true, args: [0, 1], run: restart },
  autoscaleCommand,
  psStopCommand,
  runCommand,
];
