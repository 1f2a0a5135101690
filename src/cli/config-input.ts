// Where config:set values come from besides the command line: `KEY=@file`, `KEY=@-` (stdin), or a whole
// .env file piped in (`berth config:set APP < .env`). Pure decisions here; reading is passed in.
import { parseEnv } from 'node:util';
import { UsageError } from './command.ts';
import { parseConfigPair } from './parse.ts';
import { MAX_CONFIG_VALUE } from '../shared/validation.ts';

export interface ValueSources {
  /** The file's bytes; called only for `@path` values. */
  readFile(path: string): Promise<Buffer>;
  /** All of stdin; called at most once. */
  readStdin(): Promise<Buffer>;
}

/** What a `@file` holds, minus the one newline editors and `echo` add at its end. */
function fileValue(key: string, bytes: Buffer, from: string): string {
  if (bytes.length > MAX_CONFIG_VALUE * 4) throw new UsageError(`${key}: ${from} is larger than a config value may be (${MAX_CONFIG_VALUE} characters)`);
  return bytes.toString('utf8').replace(/\r?\n$/, '');
}

/**
 * KEY=VALUE arguments with `@` values read: `@-` is stdin, `@path` a file, `@@text` the literal `@text`.
 * With no arguments, `stdinLines` says stdin holds .env lines (KEY=value, # comments, quotes, `export`).
 */
export async function resolveConfigChanges(args: string[], stdinLines: boolean, sources: ValueSources): Promise<Record<string, string>> {
  if (args.length === 0) {
    if (!stdinLines) throw new UsageError('missing KEY=VALUE (or pipe .env lines to stdin)');
    const text = (await sources.readStdin()).toString('utf8');
    const vars = parseEnv(text) as Record<string, string>;
    if (Object.keys(vars).length === 0) throw new UsageError('missing KEY=VALUE: none given, and stdin held no KEY=value lines');
    return vars;
  }
  const changes: Record<string, string> = {};
  let stdinUsedBy: string | null = null;
  for (const arg of args) {
    const [key, raw] = parseConfigPair(arg);
    if (Object.hasOwn(changes, key)) throw new UsageError(`${key} is given twice`);
    if (raw.startsWith('@@')) changes[key] = raw.slice(1);
    else if (raw === '@-') {
      if (stdinUsedBy) throw new UsageError(`${key}=@-: stdin is already read for ${stdinUsedBy}`);
      stdinUsedBy = key;
      changes[key] = fileValue(key, await sources.readStdin(), 'stdin');
    } else if (raw.startsWith('@') && raw.length > 1) {
      const path = raw.slice(1);
      const bytes = await sources.readFile(path).catch((error: NodeJS.ErrnoException) => {
        throw new UsageError(`${key}=@${path}: cannot read ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
      });
      changes[key] = fileValue(key, bytes, path);
    } else changes[key] = raw;
  }
  return changes;
}
