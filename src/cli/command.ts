// What every command module exports, and the errors that decide the exit code.
import type { ParseArgsOptionsConfig } from 'node:util';
import type { ApiClient } from './client.ts';

/** Wrong arguments: exit 2 with the command's usage line. */
export class UsageError extends Error {
  name = 'UsageError';
}

/** A failure the user can act on (not logged in, refused destroy, ...): exit 1, one line. */
export class CliError extends Error {
  name = 'CliError';
}

/** Ends the CLI with this exit code and no message of its own (`berth run` exits with its command's code). */
export class CommandExit extends Error {
  name = 'CommandExit';
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

export interface Io {
  out(line: string): void;   // stdout, newline added
  write(text: string): void; // stdout, as is (progress lines finished later)
  err(line: string): void;   // stderr, newline added
}

export type Flags = Record<string, string | boolean | undefined>;

export interface CommandContext {
  app: string;               // '' for commands that take no app
  args: string[];            // positionals after the app
  flags: Flags;
  json: boolean;             // --json: print the API's answer as is
  io: Io;
  api(): ApiClient;          // resolved lazily so usage errors never need credentials
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;              // e.g. "config:set"
  usage: string;             // arguments after the name, e.g. "APP KEY=VALUE..."
  summary: string;
  app?: boolean;             // first positional (or -a/--app) is the app
  args?: [min: number, max: number]; // positionals after the app; default none
  options?: ParseArgsOptionsConfig;
  run(ctx: CommandContext): Promise<void>;
}

export function stringFlag(ctx: CommandContext, name: string): string | undefined {
  const value = ctx.flags[name];
  return typeof value === 'string' ? value : undefined;
}

/** Prints JSON for --json and reports whether it did, so commands can return early. */
export function printedJson(ctx: CommandContext, value: unknown): boolean {
  if (!ctx.json) return false;
  ctx.io.out(JSON.stringify(value, null, 2));
  return true;
}

/**
 * "Doing X... done, v3": the label is printed first so a slow call shows what it waits for.
 * The client is resolved before that, so "not logged in" is not preceded by a dangling label.
 */
export async function withProgress<T>(
  ctx: CommandContext,
  label: string,
  action: (api: ApiClient) => Promise<T>,
  doneText: (result: T) => string = () => 'done',
): Promise<T> {
  const api = ctx.api();
  if (!ctx.json) ctx.io.write(`${label}... `);
  try {
    const result = await action(api);
    if (!ctx.json) ctx.io.out(doneText(result));
    return result;
  } catch (error) {
    if (!ctx.json) ctx.io.out('failed');
    throw error;
  }
}
