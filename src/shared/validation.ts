// The rules for names and values users give us, in one place so API, CLI and tests agree.
import { badRequest } from './errors.ts';

export const APP_NAME = /^[a-z][a-z0-9-]{1,29}$/;
export const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const PROCESS_TYPE = /^[a-z][a-z0-9_-]{0,29}$/;
export const MAX_CONFIG_VALUE = 32 * 1024;
// Set by Berth in every container; BERTH_DOCKERFILE and BERTH_BUILD_ARGS stay settable (build settings).
const RESERVED_CONFIG_KEYS = new Set(['PORT', 'DYNO', 'BERTH_APP', 'BERTH_RELEASE', 'BERTH_PROCESS']);
// Lowercase DNS names: labels of 1-63 letters, digits and inner hyphens, at least two labels.
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

export function checkHostname(raw: unknown): string {
  const host = typeof raw === 'string' ? raw.trim().toLowerCase().replace(/\.$/, '') : '';
  const labels = host.startsWith('*.') ? host.slice(2).split('.') : host.split('.');
  if (host.length > 253 || labels.length < 2 || !labels.every((l) => HOST_LABEL.test(l))) {
    throw badRequest('invalid_hostname', `Invalid hostname ${JSON.stringify(raw)}: expected a DNS name like www.example.com.`);
  }
  return host;
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
