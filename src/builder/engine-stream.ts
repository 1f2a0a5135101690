// The engine streams build and push progress as newline-delimited JSON messages.
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export interface EngineMessage {
  stream?: string;
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
  aux?: Record<string, unknown>;
}

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-_]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Output text may hold several lines, carriage-return progress bars and colours. */
export function outputLines(text: string): string[] {
  return stripAnsi(text)
    .split(/\r?\n|\r/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '');
}

/** The error a message carries, if any. */
export function messageError(message: EngineMessage): string | null {
  const failure = message.errorDetail?.message ?? message.error;
  return failure ? stripAnsi(failure).trim() : null;
}

/** Chunks split messages (and UTF-8 characters) anywhere. */
export async function* engineMessages(output: Readable): AsyncGenerator<EngineMessage> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of output) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
    let newline: number;
    while ((newline = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) yield parseMessage(line);
    }
  }
  pending += decoder.end();
  if (pending.trim()) yield parseMessage(pending.trim());
}

function parseMessage(line: string): EngineMessage {
  try {
    return JSON.parse(line) as EngineMessage;
  } catch {
    return { stream: line }; // not JSON: show it rather than lose it
  }
}
