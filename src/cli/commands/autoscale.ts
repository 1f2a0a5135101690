// ps:autoscale: show an app's autoscaling and the last decisions, set it for a process type, or turn it off.
import { appPath } from '../client.ts';
import { UsageError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { relativeTime, table } from '../format.ts';
import { parseDurationMs } from '../../shared/duration.ts';
import type { AutoscaleAnswer, AutoscaleSetting } from '../../wire/autoscale.ts';

const SIGNAL_FLAGS = ['rps', 'cpu', 'p95'] as const;

/** "50" req/s; "70%" or "70" CPU; "300ms", "0.3s" or "300" (ms) for p95. */
export function parseTarget(signal: typeof SIGNAL_FLAGS[number], text: string): number {
  const trimmed = text.trim();
  const plain = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : null;
  const value = signal === 'cpu' ? (/^\d+(\.\d+)?%?$/.test(trimmed) ? Number(trimmed.replace('%', '')) : null)
    : signal === 'p95' ? plain ?? parseDurationMs(trimmed)
      : plain;
  if (value === null || !(value > 0)) {
    const example = signal === 'rps' ? '--rps 50' : signal === 'cpu' ? '--cpu 70%' : '--p95 300ms';
    throw new UsageError(`--${signal} takes a number above 0, like ${example} (got "${text}")`);
  }
  return value;
}

function wholeNumber(ctx: CommandContext, name: string, fallback?: number): number {
  const text = stringFlag(ctx, name);
  if (text === undefined) {
    if (fallback === undefined) throw new UsageError(`missing --${name} N`);
    return fallback;
  }
  if (!/^\d{1,6}$/.test(text)) throw new UsageError(`--${name} takes a whole number (got "${text}")`);
  return Number(text);
}

export function describeSetting(s: AutoscaleSetting): string {
  const now = s.current === null ? 'not in the formation now' : `running ${s.current}`;
  const changed = s.lastChangeAt ? `, last changed ${relativeTime(s.lastChangeAt)}` : '';
  const state = s.state ? `\n  ${s.state}` : '';
  return `${s.process}: ${s.min}-${s.max} instances on ${s.targetText}, cooldown ${s.cooldownSec}s; ${now}${changed}${state}`;
}

async function show(ctx: CommandContext): Promise<void> {
  const answer = await ctx.api().get<AutoscaleAnswer>(appPath(ctx.app, '/autoscale'));
  if (printedJson(ctx, answer)) return;
  if (!answer.settings.length) ctx.io.out(`${ctx.app} is not autoscaled.`);
  for (const setting of answer.settings) ctx.io.out(describeSetting(setting));
  if (!answer.decisions.length) return;
  ctx.io.out('');
  ctx.io.out('Recent decisions:');
  const rows = answer.decisions.map((d) => [relativeTime(d.at), d.status !== null && d.status >= 400 ? 'FAILED' : 'ok', d.detail ?? '']);
  table(['WHEN', 'RESULT', 'DECISION'], rows).forEach((line) => ctx.io.out(line));
}

async function autoscale(ctx: CommandContext): Promise<void> {
  const type = ctx.args[0];
  if (type === undefined) return show(ctx);
  const path = appPath(ctx.app, `/autoscale/${encodeURIComponent(type)}`);
  if (ctx.flags.off === true) {
    const answer = await withProgress(ctx, `Turning autoscaling of ${type} on ${ctx.app} off`, (api) => api.delete(path),
      () => `done; ${type} keeps its current count (ps:scale sets it by hand)`);
    printedJson(ctx, answer);
    return;
  }
  const signals = SIGNAL_FLAGS.filter((s) => stringFlag(ctx, s) !== undefined);
  if (signals.length !== 1) throw new UsageError('give one of --rps N, --cpu N% or --p95 Nms (or --off)');
  const signal = signals[0];
  const body = {
    min: wholeNumber(ctx, 'min', 1), max: wholeNumber(ctx, 'max'),
    [signal]: parseTarget(signal, stringFlag(ctx, signal)!), cooldown: stringFlag(ctx, 'cooldown'),
  };
  const setting = await withProgress(ctx, `Autoscaling ${type} of ${ctx.app}`, (api) => api.put<AutoscaleSetting>(path, body),
    (s) => `done\n${describeSetting(s)}`);
  printedJson(ctx, setting);
}

export const autoscaleCommand: Command = {
  name: 'ps:autoscale',
  usage: 'APP [TYPE --max N [--min N] (--rps N | --cpu N% | --p95 Nms) [--cooldown 5m] | TYPE --off]',
  summary: 'scale a process type on load (req/s per instance, CPU or p95); no TYPE: settings and recent decisions',
  app: true,
  args: [0, 1],
  options: {
    min: { type: 'string' }, max: { type: 'string' }, rps: { type: 'string' }, cpu: { type: 'string' }, p95: { type: 'string' },
    cooldown: { type: 'string' }, off: { type: 'boolean' },
  },
  run: autoscale,
};
