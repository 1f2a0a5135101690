// The rules for names and values users give us, in one place so API, CLI and tests agree.
import { domainToASCII, domainToUnicode } from 'node:url';
import { BerthError, badRequest } from './errors.ts';

export const APP_NAME = /^[a-z][a-z0-9-]{1,29}$/;
export const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const PROCESS_TYPE = /^[a-z][a-z0-9_-]{0,29}$/;
export const MAX_CONFIG_VALUE = 32 * 1024;
// Set by Berth in every container; BERTH_DOCKERFILE and BERTH_BUILD_ARGS stay settable (build settings).
const RESERVED_CONFIG_KEYS = new Set(['PORT', 'DYNO', 'BERTH_APP', 'BERTH_RELEASE', 'BERTH_PROCESS']);
// Lowercase DNS labels: 1-63 letters, digits and inner hyphens.
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkAppName(name: unknown): string {
  if (typeof name !== 'string' || !APP_NAME.test(name) || name.endsWith('-') || name.includes('--')) {
    throw badRequest('invalid_app_name',
      `Invalid app name ${JSON.stringify(name)}: use 2-30 lowercase letters, digits and single dashes, starting with a letter.`);
  }
  return name;
}

export const USER_NAME = /^[a-z][a-z0-9._-]{1,39}$/;

export function checkUserName(name: unknown): string {
  if (typeof name !== 'string' || !USER_NAME.test(name)) {
    throw badRequest('invalid_user_name', `Invalid user name ${JSON.stringify(name)}: use 2-40 lowercase letters, digits, dots, dashes or underscores, starting with a letter.`);
  }
  return name;
}

export function checkConfigKey(key: string): string {
  if (!CONFIG_KEY.test(key)) {
    throw badRequest('invalid_config_key',
      `Invalid config key ${JSON.stringify(key)}: use letters, digits and underscores, not starting with a digit.`);
  }
  if (RESERVED_CONFIG_KEYS.has(key)) {
    throw badRequest('invalid_config_key', `Config key ${key} is set by Berth and cannot be changed.`);
  }
  return key;
}

export function checkConfigValue(key: string, value: unknown): string {
  if (typeof value !== 'string') throw badRequest('invalid_config_value', `The value of ${key} must be a string.`);
  if (value.length > MAX_CONFIG_VALUE) {
    throw badRequest('invalid_config_value', `The value of ${key} is longer than ${MAX_CONFIG_VALUE} characters.`);
  }
  return value;
}

// What a user may type for a hostname before IDNA maps it: letters of any script, digits, hyphens and dots
// (including the ideographic full stops IDNA treats as dots). Anything else (":", "/", "%", "@", ...) would
// let the URL parser behind domainToASCII cut or decode the name into a different one.
const HOSTNAME_INPUT = /^[\p{L}\p{M}\p{N}.\u3002\uff0e\uff61-]{1,253}$/u;

/**
 * A hostname as Caddy will see it in a Host header: IDNA (unicode to punycode), lowercase, without a
 * trailing dot, at least two labels, not an IP address. A wildcard is allowed only as the whole leftmost
 * label (`*.example.com`, which matches exactly one more label, as Caddy's host matcher does). Who may
 * claim which names is decided by checkHostnameClaim.
 */
export function checkHostname(raw: unknown): string {
  const text = typeof raw === 'string' ? raw.trim() : '';
  const wildcard = text.startsWith('*.');
  const name = wildcard ? text.slice(2) : text;
  const ascii = HOSTNAME_INPUT.test(name) ? domainToASCII(name).replace(/\.$/, '') : '';
  const labels = ascii.split('.');
  const host = wildcard ? `*.${ascii}` : ascii;
  // `*.localhost` is a fine wildcard; a bare `localhost` is no name to claim.
  const tooShort = labels.length < (wildcard ? 1 : 2);
  if (host.length > 253 || tooShort || !labels.every((l) => HOST_LABEL.test(l) && validPunycode(l)) || /^[0-9]+$/.test(labels.at(-1)!)) {
    throw badRequest('invalid_hostname',
      `Invalid hostname ${JSON.stringify(raw)}: expected a DNS name like www.example.com (or, for admins, *.example.com).`);
  }
  return host;
}

/** An `xn--` label must decode to unicode that encodes back to it; Caddy refuses others (and would fail the route). */
function validPunycode(label: string): boolean {
  if (!label.startsWith('xn--')) return true;
  const decoded = domainToUnicode(label);
  return decoded !== label && domainToASCII(decoded) === label;
}

/** True when a request for `host` (an exact name) is routed by `pattern`: the same name, or a wildcard one label above it. */
export function hostnameMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
}

/** True when two claimed names (each exact or a wildcard) would both route some request. */
export function hostnamesOverlap(a: string, b: string): boolean {
  return a === b || hostnameMatches(a, b) || hostnameMatches(b, a);
}

/** True for `domain` itself and every name below it. */
export function isUnderDomain(host: string, domain: string): boolean {
  const base = domain.toLowerCase().replace(/\.$/, '');
  const bare = host.startsWith('*.') ? host.slice(2) : host;
  return bare === base || bare.endsWith(`.${base}`);
}

/**
 * Members may not claim wildcards (one would catch every app's names below it) nor names under Berth's
 * own domain, where every app's default name (and Berth's own hostnames) live. Admins may.
 */
export function checkHostnameClaim(host: string, role: string, berthDomain: string): void {
  if (role === 'admin') return;
  if (host.startsWith('*.')) {
    throw new BerthError(403, 'hostname_not_allowed', `Only admins can add wildcard domains like ${host}.`);
  }
  if (isUnderDomain(host, berthDomain)) {
    throw new BerthError(403, 'hostname_not_allowed', `${host} is under Berth's own domain ${berthDomain}, where app names live: only admins can add it.`);
  }
}

/** Berth's own hostname (the API, console and git: BERTH_API_HOST_NAME) is no app's, for admins neither. */
export function checkHostnameNotReserved(host: string, apiHostName: string | undefined): void {
  if (apiHostName && host === apiHostName) {
    throw new BerthError(409, 'hostname_reserved', `${host} is Berth's own hostname (its API, console and git): no app can use it.`);
  }
}

export function checkProcessType(type: unknown): string {
  if (typeof type !== 'string' || !PROCESS_TYPE.test(type)) {
    throw badRequest('invalid_process_type', `Invalid process type ${JSON.stringify(type)}.`);
  }
  return type;
}

export function checkImageRef(ref: unknown): string {
  // Docker references: registry/name:tag@digest; we only need to reject what can never be one.
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > 512 || /\s/.test(ref)) {
    throw badRequest('invalid_image', `Invalid image reference ${JSON.stringify(ref)}.`);
  }
  return ref;
}

/** A git branch name a user may choose to deploy from (a safe subset of git's own ref rules). */
export function checkBranchName(raw: unknown): string {
  const ok = typeof raw === 'string' && /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/.test(raw)
    && !raw.includes('..') && !raw.includes('//') && !raw.endsWith('/') && !raw.endsWith('.lock') && !raw.endsWith('.');
  if (!ok) throw badRequest('invalid_branch', `Invalid branch name ${JSON.stringify(raw)}.`);
  return raw as string;
}

export interface SizeText { memoryMB?: number; cpus?: number }
const SIZE_TEXT = /^(?:(\d{1,7})([MG])B?)?(?:\/(\d{1,3}(?:\.\d{1,3})?|\.\d{1,3}))?$/i;

/** "512M" → 512 MB, "1G" → 1024 MB, "512M/0.5" → also 0.5 cpus, "/2" → 2 cpus only; null if it is none of these. */
export function parseSizeText(text: string): SizeText | null {
  const match = SIZE_TEXT.exec(text);
  if (!text || text === '/' || !match) return null;
  const [, amount, unit, cpus] = match;
  const size: SizeText = {};
  if (amount !== undefined) size.memoryMB = Number(amount) * (unit.toUpperCase() === 'G' ? 1024 : 1);
  if (cpus !== undefined) size.cpus = Number(cpus);
  return size;
}
