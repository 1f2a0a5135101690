// berth backups:download ADDON ID > FILE (or --output FILE): the dump streamed to stdout or a file, its SHA-256
// checked against the one recorded at capture; a mismatch or a break fails the command (a file is not left).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CliError, stringFlag, type Command, type CommandContext } from '../command.ts';
import { BACKUP_SHA256_HEADER } from '../../wire/types.ts';
import { backupsPath, bytesText } from './backups-common.ts';

async function download(ctx: CommandContext): Promise<void> {
  const [addon, id] = [ctx.args[0]!, ctx.args[1]!];
  const output = stringFlag(ctx, 'output');
  if (!output && process.stdout.isTTY) throw new CliError(`A backup is binary: send it to a file (berth backups:download ${addon} ${id} > ${addon}-${id}.dump, or --output FILE).`);
  const response = await ctx.api().download(backupsPath(addon, `/backups/${encodeURIComponent(id)}/download`));
  const expected = String(response.headers[BACKUP_SHA256_HEADER] ?? '');
  const hash = createHash('sha256');
  let size = 0;
  const hashing = new Transform({ transform(chunk: Buffer, _e, done) { hash.update(chunk); size += chunk.length; done(null, chunk); } });
  const partial = output ? `${output}.partial` : null;
  try {
    await pipeline(response, hashing, partial ? fs.createWriteStream(partial, { mode: 0o600 }) : process.stdout);
  } catch (error) {
    if (partial) fs.rmSync(partial, { force: true });
    throw new CliError(`The download broke off (${(error as Error).message}): what was written is not the backup.`);
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    if (partial) fs.rmSync(partial, { force: true });
    throw new CliError(`The download's SHA-256 is ${actual}, not the recorded ${expected || '(none sent)'}: what was written is not the backup.`);
  }
  if (partial && output) fs.renameSync(partial, output);
  ctx.io.err(`${addon} ${id}: ${bytesText(size)} written${output ? ` to ${output}` : ''}, sha256 ${actual} (checked).`);
}

export const downloadCommand: Command = {
  name: 'backups:download', usage: 'ADDON ID [--output FILE]', summary: 'download a backup to stdout or FILE, its checksum checked',
  args: [2, 2], options: { output: { type: 'string', short: 'o' } }, run: download,
};
