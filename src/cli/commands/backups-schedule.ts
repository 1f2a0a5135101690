// berth backups:schedule ADDON --at HH:MM [--keep N] | --off: a daily backup at that time (UTC), keeping the last N.
import { UsageError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import type { BackupSchedule } from '../../wire/types.ts';
import { backupsPath } from './backups-common.ts';

async function schedule(ctx: CommandContext): Promise<void> {
  const addon = ctx.args[0]!;
  const off = ctx.flags.off === true;
  const at = stringFlag(ctx, 'at');
  if (off === (at !== undefined)) throw new UsageError('give --at HH:MM (UTC) or --off');
  const keep = stringFlag(ctx, 'keep');
  const answer = await withProgress(ctx, off ? `Unscheduling backups of ${addon}` : `Scheduling backups of ${addon}`, (api) =>
    api.put<{ schedule: BackupSchedule | null }>(backupsPath(addon, '/backups/schedule'), off ? { off } : { at, keep }));
  if (printedJson(ctx, answer)) return;
  const s = answer.schedule;
  ctx.io.out(s ? `Daily at ${s.at} UTC, keeping the last ${s.keep} backups; next at ${s.nextRunAt}.` : `${addon} has no backup schedule now; its backups stay.`);
}

export const scheduleCommand: Command = {
  name: 'backups:schedule', usage: 'ADDON --at HH:MM [--keep 7] | --off', summary: 'back an add-on up daily at HH:MM UTC, keeping the last N',
  args: [1, 1], options: { at: { type: 'string' }, keep: { type: 'string' }, off: { type: 'boolean' } }, run: schedule,
};
