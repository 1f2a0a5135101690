// The /logs query string: time bounds as durations back from now (30s, 15m, 2h, 3d) or ISO times,
// text and process filters, a line limit. Anything malformed is a 400 naming the parameter.
import { badRequest } from '../shared/errors.ts';
import type { LogQuery } from './range-reader.ts';

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const ISO_TIME = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?)?(?:Z|[+-]\d\d:?\d\d)?$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const MAX_LIMIT = 10_000_000;
const MAX_GREP = 1000;

/** ms since the epoch for "2h" (two hours before now) or an ISO time; a 400 for anything else. */
export function parseTimeParam(name: string, value: string, now: number): number {
  const duration = DURATION.exec(value);
  if (duration) return now - Number(duration[1]) * UNIT_MS[duration[2]];
  if (ISO_TIME.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw badRequest('bad_request', `${name} must be a duration like 30s, 15m, 2h, 3d or an ISO time like 2026-11-25T17:00:00Z (got "${value}").`);
}

export interface LogParams {
  /** Set when the request asks for stored lines (since, until, grep or limit given). */
  stored: LogQuery | null;
  process?: string;
  instance?: string;
}

export function parseLogParams(q: Record<string, string | undefined>, now: number): LogParams {
  const process = nameParam('process', q.process);
  const instance = nameParam('instance', q.instance);
  const wantsStore = ['since', 'until', 'grep', 'limit'].some((k) => q[k] !== undefined && q[k] !== '');
  if (!wantsStore) return { stored: null, process, instance };
  const since = q.since ? parseTimeParam('since', q.since, now) : undefined;
  const until = q.until ? parseTimeParam('until', q.until, now) : undefined;
  if (since !== undefined && until !== undefined && since >= until) throw badRequest('bad_request', 'since must be earlier than until.');
  if (q.grep !== undefined && q.grep.length > MAX_GREP) throw badRequest('bad_request', `grep may be at most ${MAX_GREP} characters.`);
  let limit: number | undefined;
  if (q.limit !== undefined && q.limit !== '') {
    limit = Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badRequest('bad_request', `limit must be 1-${MAX_LIMIT}.`);
  }
  return { stored: { since, until, grep: q.grep || undefined, process, instance, limit }, process, instance };
}

function nameParam(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!NAME.test(value)) throw badRequest('bad_request', `${name} must look like web or web.2 (got "${value}").`);
  return value;
}
