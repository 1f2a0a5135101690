// Parsers for the small argument languages: KEY=value, TYPE=QTY[:SIZE], SIZE, vN.
// They throw UsageError so a typo exits 2 with the command's usage line.
import { UsageError } from './command.ts';
import type { FormationUpdate } from '../wire/types.ts';
import { parseSizeText, type SizeText } from '../shared/validation.ts';

const PROCESS_TYPE = /^[a-z][a-z0-9_-]{0,29}$/;

/** Splits at the first `=` only: values such as URLs with query strings keep theirs. */
export function parseConfigPair(arg: string): [string, string] {
  const at = arg.indexOf('=');
  if (at <= 0) throw new UsageError(`"${arg}" is not KEY=value`);
  return [arg.slice(0, at), arg.slice(at + 1)];
}

export type Size = SizeText;

/** "512M" → 512 MB, "1G" → 1024 MB, "512M/0.5" → also 0.5 cpus, "/2" → 2 cpus only. */
export function parseSize(text: string): Size {
  const size = parseSizeText(text);
  if (!size) throw new UsageError(`"${text}" is not a size like 512M, 1G or 512M/0.5`);
  if (size.memoryMB === 0 || size.cpus === 0) throw new UsageError(`"${text}": a size must be more than 0`);
  return size;
}

function parseType(type: string, arg: string): string {
  if (!PROCESS_TYPE.test(type)) throw new UsageError(`"${arg}": "${type}" is not a process type`);
  return type;
}

/** "web=3", "web=2:512M", "worker=1:1G/2" */
export function parseScaleArg(arg: string): FormationUpdate {
  const match = /^([^=]+)=(\d+)(?::(.+))?$/.exec(arg);
  if (!match) throw new UsageError(`"${arg}" is not TYPE=QUANTITY[:SIZE], e.g. web=2 or web=2:512M`);
  const [, type, quantity, size] = match;
  return { type: parseType(type, arg), quantity: Number(quantity), ...(size ? parseSize(size) : {}) };
}

/** "web=512M", "web=512M/0.5" */
export function parseResizeArg(arg: string): FormationUpdate {
  const match = /^([^=]+)=(.+)$/.exec(arg);
  if (!match) throw new UsageError(`"${arg}" is not TYPE=SIZE, e.g. web=512M or web=1G/2`);
  const [, type, size] = match;
  return { type: parseType(type, arg), ...parseSize(size) };
}

/** Rejects `web=1 web=2`: which one was meant is a guess the CLI should not make. */
export function rejectDuplicateTypes(updates: FormationUpdate[]): FormationUpdate[] {
  const seen = new Set<string>();
  for (const { type } of updates) {
    if (seen.has(type)) throw new UsageError(`process type "${type}" is given twice`);
    seen.add(type);
  }
  return updates;
}

/** "v3" or "3" */
export function parseVersion(text: string): number {
  const match = /^v?(\d+)$/i.exec(text);
  if (!match || Number(match[1]) < 1) throw new UsageError(`"${text}" is not a release version like v3`);
  return Number(match[1]);
}

export function parseCount(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a whole number, got "${text}"`);
  return Number(text);
}
