// Short durations as users type them: 10s, 5m, 1h, 30d (also 1h30m), to milliseconds and back.
import { badRequest } from './errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** null when the text is not a duration. */
export function parseDurationMs(text: string): number | null {
  const parts = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(text) ? text.match(/\d+(?:\.\d+)?(?:ms|s|m|h|d)/g) : null;
  if (!parts) return null;
  let ms = 0;
  for (const part of parts) {
    const [, n, unit] = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part)!;
    ms += Number(n) * UNIT_MS[unit];
  }
  return ms;
}

/** Like parseDurationMs, but a 400 naming the parameter when the text is not one. */
export function requireDurationMs(name: string, text: string): number {
  const ms = parseDurationMs(text.trim());
  if (ms === null || ms <= 0) throw badRequest('bad_request', `${name} must be a duration like 10s, 5m, 1h or 7d (got "${text}").`);
  return ms;
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
