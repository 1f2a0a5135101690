// Files the installer puts on a host: the shell commands that write them atomically and read their digest
// back, and the tasks built on them (a file is in place when its sha256 on the host is the wanted one).
// A service whose files change is marked for a restart: the marker file survives a failed run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Task, TaskContext } from './task.ts';

/** Single-quotes a word for sh. */
export function shq(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export function sha256Command(path: string): string {
  return `sha256sum ${shq(path)} 2>/dev/null | cut -d' ' -f1`;
}

const dirname = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/';

/**
 * Writes stdin to path atomically (temp file + rename, so a running service never sees half a binary),
 * with mode; base64 when the content is binary. With a marker, every write also touches it.
 */
export function writeFileCommand(path: string, mode: string, opts: { base64?: boolean; marker?: string } = {}): string {
  const tmp = `${path}.berth-new`;
  const writer = opts.base64 ? 'base64 -d' : 'cat';
  const dirs = [dirname(path), ...(opts.marker ? [dirname(opts.marker)] : [])];
  return [
    `mkdir -p ${dirs.map(shq).join(' ')}`,
    `(umask 077 && ${writer} > ${shq(tmp)})`,
    `chmod ${mode} ${shq(tmp)}`,
    `mv -f ${shq(tmp)} ${shq(path)}`,
    ...(opts.marker ? [`touch ${shq(opts.marker)}`] : []),
  ].join(' && ');
}

/**
 * Writes several files in one command (one SSH round trip), each as writeFileCommand does. Its stdin is
 * writeFilesInput's: a line per file, path and content base64-encoded, so no byte of either reaches the shell.
 */
export function writeFilesCommand(marker?: string): string {
  return 'umask 077; while read -r p m c; do p=$(printf %s "$p" | base64 -d) && mkdir -p "${p%/*}" && ' +
    'printf %s "$c" | base64 -d > "$p.berth-new" && chmod "$m" "$p.berth-new" && mv -f "$p.berth-new" "$p" || exit 1; done' +
    (marker ? ` && mkdir -p ${shq(dirname(marker))} && touch ${shq(marker)}` : '');
}

export function writeFilesInput(files: FileSpec[]): string {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  return files.map((f) => {
    if (!/^[0-7]{3,4}$/.test(f.mode)) throw new Error(`file mode ${JSON.stringify(f.mode)} is not octal`);
    return `${b64(f.path)} ${f.mode} ${b64(f.content)}\n`;
  }).join('');
}

export async function remoteSha256(ctx: TaskContext, file: string): Promise<string> {
  return (await ctx.run(sha256Command(file), { allowFail: true })).stdout.trim();
}

export function sha256(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export interface FileTaskOptions {
  /** Touched whenever the file is written: the service that reads it needs a restart. */
  marker?: string;
  hint?: string;
}

/** A small text file whose content is computed (it may depend on the host). */
export function fileTask(name: string, file: string, mode: string, content: (ctx: TaskContext) => Promise<string>, opts: FileTaskOptions = {}): Task {
  return {
    name, hint: opts.hint,
    async check(ctx) { return await remoteSha256(ctx, file) === sha256(await content(ctx)); },
    async apply(ctx) { await ctx.run(writeFileCommand(file, mode, { marker: opts.marker }), { input: await content(ctx) }); },
  };
}

export interface FileSpec { path: string; mode: string; content: string }

/** Several small text files as one task: in place when every one is; applying writes those that differ. */
export function filesTask(name: string, files: FileSpec[], opts: FileTaskOptions = {}): Task {
  const differing = async (ctx: TaskContext) => {
    // One round trip for all the digests.
    const out = await ctx.run(files.map((f) => sha256Command(f.path)).map((c) => `echo "$(${c})"`).join('; '), { allowFail: true });
    const digests = out.stdout.split('\n');
    return files.filter((f, i) => digests[i]?.trim() !== sha256(f.content));
  };
  return {
    name, hint: opts.hint,
    async check(ctx) { return (await differing(ctx)).length === 0; },
    async apply(ctx) {
      const files = await differing(ctx);
      if (files.length) await ctx.run(writeFilesCommand(opts.marker), { input: writeFilesInput(files) });
    },
  };
}

/** A local file (binary, image tarball) copied up; the sha256 decides whether it is there already. */
export function localFileTask(name: string, local: string, file: string, mode: string, opts: { marker?: string } = {}): Task {
  let digest: string | undefined;
  const localSha = () => (digest ??= sha256(fs.readFileSync(local)));
  return {
    name,
    hint: `the file is copied from ${local} on this machine as base64 over SSH; check it exists and the host has disk space`,
    async check(ctx) { return await remoteSha256(ctx, file) === localSha(); },
    async apply(ctx) {
      // The contract's stdin is a string, so binary content travels base64-encoded.
      await ctx.run(writeFileCommand(file, mode, { base64: true, marker: opts.marker }), { input: fs.readFileSync(local).toString('base64') });
    },
  };
}
