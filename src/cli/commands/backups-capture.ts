// berth backups:capture ADDON: a backup now (the dump streams into the backup store; the answer comes when it is stored).
import { printedJson, withProgress, type Command, type CommandContext } from '../command.ts';
import type { Backup } from '../../wire/types.ts';
import { backupsPath, bytesText, durationText } from './backups-common.ts';

async function capture(ctx: CommandContext): Promise<void> {
  const addon = ctx.args[0]!;
  const backup = await withProgress(ctx, `Backing up ${addon}`, (api) => api.post<Backup>(backupsPath(addon, '/backups'), {}),
    (b) => `done, ${b.id}: ${bytesText(b.size)} in ${durationText(b.durationMs)}`);
  if (printedJson(ctx, backup)) return;
  ctx.io.out(`sha256 ${backup.sha256}`);
}

export const captureCommand: Command = {
  name: 'backups:capture', usage: 'ADDON', summary: 'back up an add-on now (pg_dump, mariadb-dump or a Redis snapshot)', args: [1, 1], run: capture,
};
