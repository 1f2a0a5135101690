// alerts, alerts:add, alerts:remove, alerts:events
import { appPath } from '../client.ts';
import { UsageError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { relativeTime, table } from '../format.ts';

interface AlertRule { id: number; rule: string; state: string; stateSince: string | null; webhook: string; format: string; renotifyMinutes: number }
interface AlertEvent { id: number; expr: string; kind: string; message: string; at: string; deliveries: { attempt: number; status: number | null; error: string | null }[] }

async function listRules(ctx: CommandContext): Promise<void> {
  const rules = await ctx.api().get<AlertRule[]>(appPath(ctx.app, '/alerts'));
  if (printedJson(ctx, rules)) return;
  if (rules.length === 0) return ctx.io.out(`${ctx.app} has no alert rules.`);
  const rows = rules.map((r) => [String(r.id), r.rule, r.state === 'firing' ? `FIRING ${relativeTime(r.stateSince)}` : 'ok', r.format, r.webhook]);
  table(['ID', 'RULE', 'STATE', 'FORMAT', 'WEBHOOK'], rows).forEach((line) => ctx.io.out(line));
}

async function addRule(ctx: CommandContext): Promise<void> {
  const webhook = stringFlag(ctx, 'webhook');
  if (!webhook) throw new UsageError('missing --webhook URL');
  const renotify = stringFlag(ctx, 'renotify');
  const renotifyMinutes = renotify === undefined ? undefined : Number(renotify);
  if (renotifyMinutes !== undefined && !Number.isInteger(renotifyMinutes)) throw new UsageError('--renotify takes whole minutes (0: never)');
  const rule = await withProgress(ctx, `Adding alert "${ctx.args[0]}" to ${ctx.app}`, (api) =>
    api.post<AlertRule>(appPath(ctx.app, '/alerts'), {
      rule: ctx.args[0], webhook, format: ctx.flags.slack === true ? 'slack' : 'json', renotifyMinutes,
    }), (r) => `done, id ${r.id}`);
  printedJson(ctx, rule);
}

async function removeRule(ctx: CommandContext): Promise<void> {
  const answer = await withProgress(ctx, `Removing alert ${ctx.args[0]} from ${ctx.app}`, (api) =>
    api.delete<{ deleted: number }>(appPath(ctx.app, `/alerts/${encodeURIComponent(ctx.args[0])}`)));
  printedJson(ctx, answer);
}

async function listEvents(ctx: CommandContext): Promise<void> {
  const events = await ctx.api().get<AlertEvent[]>(appPath(ctx.app, '/alerts/events'));
  if (printedJson(ctx, events)) return;
  if (events.length === 0) return ctx.io.out(`No alerts have fired for ${ctx.app}.`);
  const rows = events.map((e) => {
    const last = e.deliveries.at(-1);
    const delivered = !last ? '-' : last.error === null ? `sent (${e.deliveries.length} attempt(s))` : `failed: ${last.error}`;
    return [e.at, e.kind.toUpperCase(), e.expr, e.message, delivered];
  });
  table(['TIME', 'EVENT', 'RULE', 'DETAIL', 'WEBHOOK'], rows).forEach((line) => ctx.io.out(line));
}

export const alertCommands: Command[] = [
  { name: 'alerts', usage: 'APP', summary: 'list alert rules and whether they fire', app: true, run: listRules },
  {
    name: 'alerts:add', usage: 'APP RULE --webhook URL [--slack] [--renotify MIN]',
    summary: 'alert on e.g. "cpu > 80% for 5m", "p95 > 500ms for 2m", \'log "ERROR" >= 10 in 1m\'', app: true, args: [1, 1],
    options: { webhook: { type: 'string' }, slack: { type: 'boolean' }, renotify: { type: 'string' } }, run: addRule,
  },
  { name: 'alerts:remove', usage: 'APP ID', summary: 'remove an alert rule', app: true, args: [1, 1], run: removeRule },
  { name: 'alerts:events', usage: 'APP', summary: 'firing and resolved history, with webhook deliveries', app: true, run: listEvents },
];
