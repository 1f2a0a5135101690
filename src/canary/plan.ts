// A canary's plan: how much traffic, which gray matches, how it steps and when analysis aborts it.
// Validated here from what members send (it reaches Caddy's config as matchers and regexes).
import { badRequest } from '../shared/errors.ts';
import { parseDurationMs, requireDurationMs } from '../shared/duration.ts';

export interface CanaryPlan {
  /** The first weight, in percent of the requests (0: only the gray matches). */
  weight: number;
  /** Later weights, each after `everySec` of healthy analysis; the last 100 promotes. Empty: promote by hand. */
  steps: number[];
  everySec: number;
  header: { name: string; value: string } | null;
  cookie: { name: string; value: string } | null;
  /** A client keeps the side it was first drawn for. */
  sticky: boolean;
  /** Abort when the canary's 5xx rate is above the stable's by more than this (0.01: one percentage point). */
  max5xxDelta: number;
  /** Abort when the canary's p95 is above the stable's times this. */
  maxP95Ratio: number;
  /** Analysis judges (and steps) only once the canary served this many requests in the window. */
  minRequests: number;
  /**
   * Seconds from the canary's start whose requests the analysis leaves out, on both sides: a fresh instance's first
   * requests are slow (JIT, caches, connections) and would read as a slower release. Absent in plans stored before it:
   * DEFAULT_WARMUP_SEC.
   */
  warmupSec?: number;
}

export const DEFAULT_EVERY_SEC = 120;
export const DEFAULT_MAX_5XX_DELTA = 0.01;
export const DEFAULT_MAX_P95_RATIO = 1.5;
export const DEFAULT_MIN_REQUESTS = 100;
export const DEFAULT_WARMUP_SEC = 30;
const MAX_WARMUP_SEC = 3600;

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
const COOKIE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** No `*` (Caddy's header matcher reads it as a wildcard), no `;` or `,` (separators), no spaces or quotes. */
const MATCH_VALUE = /^[A-Za-z0-9._~:/+=@-]{1,128}$/;
const RESERVED_HEADERS = new Set(['host', 'cookie', 'content-length', 'transfer-encoding', 'connection']);

/** Settings as the API takes them: numbers, or the CLI's text (`10`, `10,25,50,100`, `2m`, `X-Canary=1`, `1%`). */
export interface PlanInput {
  weight?: unknown; steps?: unknown; every?: unknown; header?: unknown; cookie?: unknown; sticky?: unknown;
  max5xxDelta?: unknown; maxP95Ratio?: unknown; minRequests?: unknown; warmup?: unknown;
}

export function parsePlan(input: PlanInput): CanaryPlan {
  const steps = input.steps === undefined || input.steps === null ? [] : parseSteps(input.steps);
  const header = input.header ? parseMatch('header', input.header, HEADER_NAME) : null;
  const cookie = input.cookie ? parseMatch('cookie', input.cookie, COOKIE_NAME) : null;
  if (header && RESERVED_HEADERS.has(header.name.toLowerCase())) throw badRequest('invalid_canary', `--canary-header cannot match ${header.name}.`);
  const weight = input.weight === undefined || input.weight === null ? steps[0] ?? (header || cookie ? 0 : null) : parseWeight('weight', input.weight);
  if (weight === null) throw badRequest('invalid_canary', 'A canary needs a weight (--canary 10), steps (--canary-step 10,25,50,100), or a gray match (--canary-header, --canary-cookie).');
  if (weight === 100) throw badRequest('invalid_canary', 'A canary at 100 % is a plain deploy: give a weight below 100.');
  if (steps.length && steps[0] !== weight) steps.unshift(weight);
  if (steps.length && steps.at(-1) !== 100) throw badRequest('invalid_canary', '--canary-step must end with 100 (the promotion).');
  return {
    weight, steps, header, cookie,
    everySec: input.every === undefined || input.every === null ? DEFAULT_EVERY_SEC : Math.max(1, Math.round(requireDurationMs('--every', String(input.every)) / 1000)),
    sticky: input.sticky === true || input.sticky === 'true',
    max5xxDelta: input.max5xxDelta === undefined || input.max5xxDelta === null ? DEFAULT_MAX_5XX_DELTA : parseFraction('--max-5xx-delta', input.max5xxDelta),
    maxP95Ratio: input.maxP95Ratio === undefined || input.maxP95Ratio === null ? DEFAULT_MAX_P95_RATIO : parseNumber('--max-p95-ratio', input.maxP95Ratio, 1, 100),
    minRequests: input.minRequests === undefined || input.minRequests === null ? DEFAULT_MIN_REQUESTS : Math.round(parseNumber('--min-requests', input.minRequests, 1, 1_000_000)),
    warmupSec: input.warmup === undefined || input.warmup === null ? DEFAULT_WARMUP_SEC : parseWarmup(input.warmup),
  };
}

/** `30s`, `2m`, `0` (no warm-up), or a number of seconds; at most an hour. */
function parseWarmup(raw: unknown): number {
  const text = typeof raw === 'number' ? `${raw}s` : String(raw).trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseDurationMs(text);
  if (ms === null || !Number.isFinite(ms) || ms < 0 || ms > MAX_WARMUP_SEC * 1000) {
    throw badRequest('invalid_canary', `--warmup must be a duration from 0s to 1h, like 30s or 2m (got "${String(raw)}").`);
  }
  return Math.round(ms / 1000);
}

function parseNumber(name: string, raw: unknown, min: number, max: number): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw badRequest('invalid_canary', `${name} must be a number from ${min} to ${max}.`);
  return n;
}

function parseWeight(name: string, raw: unknown): number {
  const n = parseNumber(name === 'weight' ? '--canary' : name, typeof raw === 'string' ? raw.replace(/%$/, '') : raw, 0, 100);
  if (!Number.isInteger(n)) throw badRequest('invalid_canary', `${name === 'weight' ? '--canary' : name} must be a whole percentage.`);
  return n;
}

function parseSteps(raw: unknown): number[] {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : null;
  if (!list || list.length === 0 || list.length > 20) throw badRequest('invalid_canary', '--canary-step takes 1 to 20 weights like 10,25,50,100.');
  const steps = list.map((w) => parseWeight('--canary-step', typeof w === 'string' ? w.trim() : w));
  if (steps.some((w, i) => i > 0 && w <= steps[i - 1]!)) throw badRequest('invalid_canary', '--canary-step weights must rise.');
  return steps;
}

/** "1%" or 0.01 (a fraction); "1" is read as a percentage too. */
function parseFraction(name: string, raw: unknown): number {
  if (typeof raw === 'number') return parseNumber(name, raw, 0, 1);
  const text = String(raw).trim().replace(/%$/, '');
  return parseNumber(name, text, 0, 100) / 100;
}

function parseMatch(what: 'header' | 'cookie', raw: unknown, nameRule: RegExp): { name: string; value: string } {
  const text = typeof raw === 'string' ? raw : '';
  const at = text.indexOf('=');
  const name = at > 0 ? text.slice(0, at) : '';
  const value = at > 0 ? text.slice(at + 1) : '';
  if (!nameRule.test(name) || !MATCH_VALUE.test(value)) {
    throw badRequest('invalid_canary', `--canary-${what} must be NAME=VALUE (name: letters, digits${what === 'cookie' ? ', _ . -' : ', -'}; value: letters, digits and ._~:/+=@-, up to 128).`);
  }
  return { name, value };
}

/** The weight the plan's step `step` gives (the first weight for plans without steps). */
export function weightAt(plan: CanaryPlan, step: number): number {
  return plan.steps.length ? plan.steps[Math.min(step, plan.steps.length - 1)]! : plan.weight;
}
