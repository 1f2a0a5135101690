// berth backups ADDON: the add-on's backups, newest first, and its schedule. The other backups:* verbs are
// one file each beside this one; this module lists them all for the CLI.
import { printedJson, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';
import type { BackupList } from '../../wire/types.ts';
import { backupsPath, bytesText, durationText } from './backups-common.ts';
import { captureCommand } from './backups-capture.ts';
import { downloadCommand } from './backups-download.ts';
import { restoreCommand } from './backups-restore.ts';
import { scheduleCommand } from './backups-schedule.ts';

async function listBackups(ctx: CommandContext): Promise<void> {
  const addon = ctx.args[0]!;
  const list = await ctx.api().get<BackupList>(backupsPath(addon, '/backups'));
  if (printedJson(ctx, list)) return;
  ctx.io.out(list.schedule
    ? `${list.addon} (${list.kind}): backed up daily at ${list.schedule.at} UTC, keeping the last ${list.schedule.keep}; next at ${list.schedule.nextRunAt}`
    : `${list.addon} (${list.kind}): no schedule (berth backups:schedule ${list.addon} --at 02:00 --keep 7)`);
  if (list.backups.length === 0) return ctx.io.out('No backups yet: berth backups:capture ' + list.addon);
  const rows = list.backups.map((b) => [b.id, b.startedAt, bytesText(b.size), durationText(b.durationMs), b.status, b.trigger, b.error ?? '']);
  table(['ID', 'STARTED (UTC)', 'SIZE', 'DURATION', 'STATUS', 'BY', 'ERROR'], rows).forEach((line) => ctx.io.out(line.trimEnd()));
}

export const backupCommands: Command[] = [
  { name: 'backups', usage: 'ADDON', summary: 'list an add-on\'s backups (id, time, size, duration, status) and its schedule', args: [1, 1], run: listBackups },
  captureCommand,
  downloadCommand,
  restoreCommand,
  scheduleCommand,
];
