// admin:rotate-key (admins): re-seal every stored config value under a new key.
import { printedJson, withProgress, type Command, type CommandContext } from '../command.ts';

interface Rotation { keyId: string; previousKeyId: string; values: number }

async function rotateKey(ctx: CommandContext): Promise<void> {
  const rotation = await withProgress(ctx, 'Re-encrypting config values under a new key', (api) =>
    api.post<Rotation>('/admin/rotate-key', {}));
  if (printedJson(ctx, rotation)) return;
  ctx.io.out(`Key ${rotation.previousKeyId} replaced by ${rotation.keyId}; ${rotation.values} value(s) re-encrypted.`);
  ctx.io.out('Back up the key file now: older database backups need the old one.');
}

export const adminCommands: Command[] = [
  { name: 'admin:rotate-key', usage: '', summary: 'encrypt all config values under a new key (admins)', run: rotateKey },
];
