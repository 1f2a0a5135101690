// `berth help`: every command's synopsis and summary fitted to a terminal width (100 columns by default).
// Short synopses share a line with their summary; a long one gets its own line, the summary under it.
import type { Command } from './command.ts';

export const HELP_WIDTH = 100;
const INDENT = '  ';
const SUMMARY_COLUMN = 34;          // where summaries start when they share the synopsis' line
const UNDER_INDENT = ' '.repeat(6); // summaries under a long synopsis, and wrapped synopses

/** Greedy word wrap; a word longer than the line stays whole on its own line rather than being cut. */
export function wrapWords(text: string, width: number, firstPrefix: string, restPrefix: string): string[] {
  const lines: string[] = [];
  let line = firstPrefix;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = restPrefix;
      empty = true;
    }
    line += (empty ? '' : ' ') + word;
    empty = false;
  }
  if (!empty) lines.push(line);
  return lines;
}

export function synopsis(command: Command): string {
  return `${command.name} ${command.usage}`.trimEnd();
}

export function commandHelpLines(command: Command, width = HELP_WIDTH): string[] {
  return [
    ...wrapWords(`Usage: berth ${synopsis(command)}`, width, '', UNDER_INDENT),
    ...wrapWords(command.summary, width, INDENT, INDENT),
  ];
}

export function commandListLines(commands: Command[], width = HELP_WIDTH): string[] {
  return commands.flatMap((command) => {
    const head = INDENT + synopsis(command);
    if (head.length + 2 <= SUMMARY_COLUMN) {
      return wrapWords(command.summary, width, head.padEnd(SUMMARY_COLUMN), ' '.repeat(SUMMARY_COLUMN));
    }
    return [
      ...wrapWords(synopsis(command), width, INDENT, UNDER_INDENT),
      ...wrapWords(command.summary, width, UNDER_INDENT, UNDER_INDENT),
    ];
  });
}
