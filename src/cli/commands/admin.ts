// Admin-only installation commands: admin:rotate-key (re-seal every stored config value under a new key),
// admin:backup / admin:restore (Berth itself onto a new installation) and admin:check (integrity report).
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { CliError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';
import type { CheckReport } from '../../wire/types.ts';

interface Rotation { keyId: string; previousKeyId: string; values: number }

async function rotateKey(ctx: CommandContext): Promise<void> {
  const rotation = await withProgress(ctx, 'Re-encrypting config values under a new key', (api) =>
    api.post<Rotation>('/admin/rotate-key', {}));
  if (printedJson(ctx, rotation)) return;
  ctx.io.out(`Key ${rotation.previousKeyId} replaced by ${rotation.keyId}; ${rotation.values} value(s) re-encrypted.`);
  ctx.io.out('Back up the key file now: older database backups need the old one.');
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Streams the archive to --output FILE (written beside it, renamed once whole) or to stdout; progress goes to stderr. */
async function backup(ctx: CommandContext): Promise<void> {
  const output = stringFlag(ctx, 'output');
  const includeKey = ctx.flags['include-key'] === true;
  if (!output && process.stdout.isTTY) throw new CliError('The backup is a tar archive: send it to a file (berth admin:backup > berth-backup.tar, or --output FILE).');
  const started = Date.now();
  const response = await ctx.api().download(`/admin/backup${includeKey ? '?include-key=true' : ''}`);
  const partial = output ? `${output}.partial` : null;
  try {
    await pipeline(response, partial ? fs.createWriteStream(partial, { mode: 0o600 }) : process.stdout);
  } catch (error) {
    if (partial) fs.rmSync(partial, { force: true });
    throw new CliError(`The backup broke off (${(error as Error).message}): the server's log says why. Nothing usable was written.`);
  }
  if (partial && output) fs.renameSync(partial, output);
  const size = partial && output ? ` (${megabytes(fs.statSync(output).size)})` : '';
  ctx.io.err(`Backup written${output ? ` to ${output}` : ''}${size} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  ctx.io.err(includeKey
    ? 'It holds the secrets key: whoever has this file can read every config value. Keep it as safe as the server.'
    : 'It holds no secrets key: keep the server\'s secrets.key (BERTH_SECRETS_KEY_FILE) too; a restore needs it (--key-file), or back up with --include-key.');
}

interface RestoreResult {
  apps: string[]; images: number; keyFrom: string; converged: string[]; failed: string[]; addons: string[];
  backup: { berthVersion: string; schemaVersion: number; createdAt: string };
}

async function restore(ctx: CommandContext): Promise<void> {
  const file = ctx.args[0]!;
  let size: number;
  try { size = fs.statSync(file).size; } catch { throw new CliError(`${file} does not exist or cannot be read.`); }
  const keyFile = stringFlag(ctx, 'key-file');
  let headers: Record<string, string> = {};
  if (keyFile) {
    try { headers = { 'x-berth-secrets-key': fs.readFileSync(keyFile).toString('base64') }; } catch { throw new CliError(`${keyFile} cannot be read.`); }
  }
  const result = await withProgress(ctx, `Verifying and restoring ${file} (${megabytes(size)})`, (api) =>
    api.upload<RestoreResult>('/admin/restore', fs.createReadStream(file), size, headers));
  if (printedJson(ctx, result)) return;
  ctx.io.out(`Restored the backup of ${result.backup.createdAt} (Berth ${result.backup.berthVersion}): ${result.apps.length} app(s), ${result.images} image(s); secrets key from the ${result.keyFrom}.`);
  if (result.converged.length) ctx.io.out(`Running again: ${result.converged.join(', ')}`);
  if (result.failed.length) ctx.io.out(`Could not be started (see the server's log): ${result.failed.join(', ')}`);
  if (result.addons?.length) {
    ctx.io.out(`Add-on services started again: ${result.addons.join(', ')}. Their data is not in this archive: where their volumes ` +
      'were lost they start empty; bring it back with berth backups NAME, then berth backups:restore NAME ID --confirm NAME ' +
      '(the backups must be in this installation\'s backup store: the old BERTH_DATA_DIR/backups copied over, or the same S3 bucket).');
  }
  ctx.io.out('Users, tokens and sessions are the backup\'s now: log in again with a token of the old installation.');
}


async function check(ctx: CommandContext): Promise<void> {
  const report = await ctx.api().get<CheckReport>('/admin/check');
  if (printedJson(ctx, report)) return;
  ctx.io.out(`Database: ${report.database.ok ? 'ok' : `FAILS its integrity check: ${report.database.messages.slice(0, 5).join('; ')}`}`);
  ctx.io.out(report.missingImages.length ? 'Live releases whose image is missing:' : 'Images of live releases: all present');
  for (const image of report.missingImages) ctx.io.out(`  ${image.app} v${image.version} ${image.imageRef}: ${image.problem}`);
  ctx.io.out(report.orphanContainers.length ? 'Containers of this installation that no app owns:' : 'Orphan containers: none');
  for (const container of report.orphanContainers) ctx.io.out(`  ${container.name} (${container.id}, app ${container.app || '-'}, ${container.state})`);
  if (report.disk.length) {
    ctx.io.out('Disk use per app:');
    for (const line of table(['APP', 'REPO', 'LOGS', 'BUILD LOGS', 'TOTAL'], report.disk.map((d) =>
      [d.app, megabytes(d.repoBytes), megabytes(d.logBytes), megabytes(d.buildLogBytes), megabytes(d.totalBytes)]))) ctx.io.out(`  ${line}`);
  }
  ctx.io.out(report.ok ? 'No problems found.' : 'Problems found (above).');
}

export const adminCommands: Command[] = [
  { name: 'admin:rotate-key', usage: '', summary: 'encrypt all config values under a new key (admins)', run: rotateKey },
  {
    name: 'admin:backup', usage: '[--include-key] [--output FILE]', summary: 'back up this installation as a tar archive, to stdout or FILE (admins)',
    options: { 'include-key': { type: 'boolean' }, output: { type: 'string', short: 'o' } }, run: backup,
  },
  {
    name: 'admin:restore', usage: 'FILE [--key-file secrets.key]', summary: 'restore a backup onto this new installation, verified first (admins)',
    args: [1, 1], options: { 'key-file': { type: 'string' } }, run: restore,
  },
  { name: 'admin:check', usage: '', summary: 'integrity report: database, missing images, orphan containers, disk use per app (admins)', run: check },
];
