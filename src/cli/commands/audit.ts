// audit: who changed what, when, from where (newest first)
import { printedJson, stringFlag, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';
import { UsageError } from '../command.ts';

interface AuditRow { id: number; at: string; actor: string; action: string; app: string | null; target: string | null; ip: string | null; status: number | null; detail: string | null }

async function listAudit(ctx: CommandContext): Promise<void> {
  const limit = stringFlag(ctx, 'num') ?? '50';
  if (!/^\d+$/.test(limit)) throw new UsageError('--num must be a number');
  const query = new URLSearchParams({ limit });
  const app = ctx.app || stringFlag(ctx, 'app');
  if (app) query.set('app', app);
  const user = stringFlag(ctx, 'user');
  if (user) query.set('user', user);
  const rows = await ctx.api().get<AuditRow[]>(`/audit?${query}`);
  if (printedJson(ctx, rows)) return;
  if (rows.length === 0) return ctx.io.out('No audit events.');
  const lines = table(['TIME', 'USER', 'ACTION', 'APP', 'STATUS', 'FROM', 'DETAIL'], rows.map((r) => [
    r.at.replace('T', ' ').slice(0, 19), r.actor, r.action, r.app ?? '', String(r.status ?? ''), r.ip ?? '', [r.target, r.detail].filter(Boolean).join(' '),
  ]));
  lines.forEach((line) => ctx.io.out(line));
}

export const auditCommands: Command[] = [
  {
    name: 'audit', usage: '[-a APP] [--user NAME] [-n NUM]', summary: 'list state changes: who, when, what, from where',
    options: { num: { type: 'string', short: 'n' }, user: { type: 'string' } }, run: listAudit,
  },
];
