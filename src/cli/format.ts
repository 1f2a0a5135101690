// Human output: aligned tables and key/value lists, relative times, process sizes.
import type { Formation } from '../wire/types.ts';

/** Columns padded to their widest cell; the last column is not padded, so no trailing spaces. */
export function table(headers: string[], rows: string[][]): string[] {
  const all = [headers, ...rows];
  const widths = headers.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  return all.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd(),
  );
}

/** `KEY:   value` with the values lined up, like `heroku config`. */
export function keyValues(pairs: Array<[string, string]>): string[] {
  const width = Math.max(0, ...pairs.map(([key]) => key.length + 1));
  return pairs.map(([key, value]) => `${(key + ':').padEnd(width)} ${value}`);
}

const UNITS: Array<[string, number]> = [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]];

/** "3m ago"; older than 30 days gives the date, which says more than "45d ago". */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 1) return 'just now';
  if (seconds > 30 * 86_400) return iso.slice(0, 10);
  const [unit, size] = UNITS.find(([, size]) => seconds >= size) ?? ['s', 1];
  return `${Math.floor(seconds / size)}${unit} ago`;
}

/** 512 → "512M", 2048 → "2G", plus "/0.5" for cpus: the same syntax ps:scale accepts. */
export function formatSize(memoryMB: number | null, cpus: number | null): string {
  const memory = memoryMB === null ? '' : memoryMB % 1024 === 0 ? `${memoryMB / 1024}G` : `${memoryMB}M`;
  return cpus === null ? memory : `${memory}/${cpus}`;
}

/** "web=2:512M/0.5" */
export function formatFormation(formation: Formation): string {
  const size = formatSize(formation.memoryMB, formation.cpus);
  return `${formation.type}=${formation.quantity}${size ? ':' + size : ''}`;
}

/** "A", "A and B", "A, B and C" */
export function listSentence(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

export function formatVersion(version: number | null | undefined): string {
  return version === null || version === undefined ? '-' : `v${version}`;
}

/** KEY=value, single-quoted when the shell would otherwise split or expand it. */
export function shellAssignment(key: string, value: string): string {
  if (/^[\w@%+=:,./-]*$/.test(value)) return `${key}=${value}`;
  return `${key}='${value.replaceAll("'", `'\\''`)}'`;
}
