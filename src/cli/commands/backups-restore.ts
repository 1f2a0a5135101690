// berth backups:restore ADDON ID | --from-file FILE, --confirm ADDON (it replaces the add-on's data) or --to NEWNAME
// (a new add-on of the same kind on the add-on's app, set as NEWNAME_URL). The server checks the backup's kind
// and checksum before it touches any service; without --confirm it says what would be overwritten.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { CliError, UsageError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import type { BackupRestore } from '../../wire/types.ts';
import { backupsPath, bytesText, durationText } from './backups-common.ts';

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function restore(ctx: CommandContext): Promise<void> {
  const [addon, id] = [ctx.args[0]!, ctx.args[1]];
  const file = stringFlag(ctx, 'from-file');
  if ((id === undefined) === (file === undefined)) throw new UsageError('give a backup id or --from-file FILE');
  const confirm = stringFlag(ctx, 'confirm');
  const to = stringFlag(ctx, 'to');
  const into = to ? `a new add-on ${to}` : addon;
  let result: BackupRestore;
  if (file !== undefined) {
    let size: number;
    try { size = fs.statSync(file).size; } catch { throw new CliError(`${file} does not exist or cannot be read.`); }
    const query = new URLSearchParams({ sha256: await fileSha256(file), ...(confirm ? { confirm } : {}), ...(to ? { to } : {}) });
    result = await withProgress(ctx, `Restoring ${file} (${bytesText(size)}) into ${into}`, (api) =>
      api.upload<BackupRestore>(`${backupsPath(addon, '/restore')}?${query}`, fs.createReadStream(file), size));
  } else {
    result = await withProgress(ctx, `Restoring ${addon} ${id} into ${into}`, (api) =>
      api.post<BackupRestore>(backupsPath(addon, `/backups/${encodeURIComponent(id!)}/restore`), { confirm, to }));
  }
  if (printedJson(ctx, result)) return;
  ctx.io.out(`${result.into} now holds ${result.from}${result.created ? ' (a new add-on on the same app: berth addons shows its var)' : ''}, in ${durationText(result.durationMs)}.`);
}

export const restoreCommand: Command = {
  name: 'backups:restore', usage: 'ADDON ID|--from-file FILE (--confirm ADDON | --to NEWNAME)',
  summary: 'replace an add-on\'s data with a backup (kind and checksum checked first), or restore into a new add-on',
  args: [1, 2], options: { confirm: { type: 'string' }, to: { type: 'string' }, 'from-file': { type: 'string' } }, run: restore,
};
