// Canary releases: the flags deploy and apps:canary share, apps:canary, releases:promote, releases:abort, and how
// `berth releases` describes a canary.
import type { ParseArgsOptionsConfig } from 'node:util';
import { appPath } from '../client.ts';
import { UsageError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { formatVersion } from '../format.ts';
import type { Release } from '../../wire/types.ts';
import type { CanaryView } from '../../wire/canary.ts';

export const CANARY_OPTIONS: ParseArgsOptionsConfig = {
  canary: { type: 'string' },
  'canary-step': { type: 'string' },
  every: { type: 'string' },
  'canary-header': { type: 'string' },
  'canary-cookie': { type: 'string' },
  sticky: { type: 'boolean' },
  'max-5xx-delta': { type: 'string' },
  'max-p95-ratio': { type: 'string' },
  'min-requests': { type: 'string' },
  warmup: { type: 'string' },
};

/** The plan the flags describe (the server validates it); undefined when no canary flag was given. */
export function planFromFlags(ctx: CommandContext, weight = stringFlag(ctx, 'canary')): Record<string, unknown> | undefined {
  const plan = {
    weight, steps: stringFlag(ctx, 'canary-step'), every: stringFlag(ctx, 'every'),
    header: stringFlag(ctx, 'canary-header'), cookie: stringFlag(ctx, 'canary-cookie'), sticky: ctx.flags.sticky === true ? true : undefined,
    max5xxDelta: stringFlag(ctx, 'max-5xx-delta'), maxP95Ratio: stringFlag(ctx, 'max-p95-ratio'), minRequests: stringFlag(ctx, 'min-requests'),
    warmup: stringFlag(ctx, 'warmup'),
  };
  const given = Object.fromEntries(Object.entries(plan).filter(([, v]) => v !== undefined));
  const starts = ['weight', 'steps', 'header', 'cookie'].some((k) => k in given);
  if (!starts && Object.keys(given).length) throw new UsageError('--every, --sticky and the thresholds go with --canary, --canary-step, --canary-header or --canary-cookie');
  return starts ? given : undefined;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** One line for `berth releases`' status column: "canary 10 %", "aborted". */
export function canaryStatus(release: Release): string {
  const c = release.canary;
  if (!c || c.state !== 'running') return release.status;
  const gray = [c.header && `header ${c.header}`, c.cookie && `cookie ${c.cookie}`].filter(Boolean).join(', ');
  return `canary ${c.weight} %${gray ? ` + ${gray}` : ''}`;
}

/** The comparison under `berth releases` while a canary runs. */
export function describeComparison(version: number, c: CanaryView): string[] {
  const lines = [`${formatVersion(version)} canary at ${c.weight} %${c.steps.length ? ` (steps ${c.steps.join(', ')} every ${c.everySec} s)` : ' (promote by hand)'}`];
  const cmp = c.comparison;
  if (!cmp) return [...lines, '  no requests analysed yet'];
  const side = (name: string, t: typeof cmp.stable) =>
    `  ${name.padEnd(7)}${String(t.requests).padStart(7)} requests  5xx ${pct(t.errorRate).padStart(7)}  p95 ${t.p95Ms === null ? '-' : `${Math.round(t.p95Ms)} ms`}`;
  return [...lines, side('stable', cmp.stable), side('canary', cmp.canary),
    `  aborts when 5xx is ${pct(c.thresholds.max5xxDelta)} worse or p95 ${c.thresholds.maxP95Ratio}x slower, after ${c.thresholds.minRequests} requests`
      + ` (those of the first ${c.thresholds.warmupSec ?? 30} s left out: warm-up)`];
}

async function setCanary(ctx: CommandContext): Promise<void> {
  if (ctx.flags.off === true) {
    await withProgress(ctx, `Turning canary pushes off for ${ctx.app}`, (api) => api.delete(appPath(ctx.app, '/canary-settings')));
    return;
  }
  const plan = planFromFlags(ctx, ctx.args[0] ?? stringFlag(ctx, 'canary'));
  if (!plan) throw new UsageError('give a weight (apps:canary APP 10), --canary-step, --canary-header or --canary-cookie; or --off');
  const answer = await withProgress(ctx, `Setting canary pushes for ${ctx.app}`,
    (api) => api.put<{ plan: CanaryView }>(appPath(ctx.app, '/canary-settings'), { plan }),
    (a) => `done: pushes start a canary at ${a.plan.weight} %`);
  printedJson(ctx, answer);
}

async function promote(ctx: CommandContext): Promise<void> {
  const release = await withProgress(ctx, `Promoting the canary of ${ctx.app}`,
    (api) => api.post<Release>(appPath(ctx.app, '/canary/promote'), {}), (r) => `done, ${formatVersion(r.version)} is live`);
  printedJson(ctx, release);
}

async function abort(ctx: CommandContext): Promise<void> {
  const release = await withProgress(ctx, `Aborting the canary of ${ctx.app}`,
    (api) => api.post<Release>(appPath(ctx.app, '/canary/abort'), {}), (r) => `done, ${formatVersion(r.version)} stopped; all traffic on the current release`);
  printedJson(ctx, release);
}

export const canaryCommands: Command[] = [
  {
    name: 'apps:canary', usage: 'APP [WEIGHT] [--canary-step 10,25,50,100 --every 2m] [--canary-header N=V] [--canary-cookie N=V] [--sticky] [--off]',
    summary: 'make the app\'s pushes start canaries (thresholds: --max-5xx-delta 1% --max-p95-ratio 1.5 --min-requests 100 --warmup 30s)',
    app: true, args: [0, 1], options: { ...CANARY_OPTIONS, off: { type: 'boolean' } }, run: setCanary,
  },
  { name: 'releases:promote', usage: 'APP', summary: 'send all traffic to the running canary; the old instances drain and stop', app: true, run: promote },
  { name: 'releases:abort', usage: 'APP', summary: 'send all traffic back to the current release and stop the canary', app: true, run: abort },
];
