// Heroku's and Dokku's app.json, read from the pushed commit: deploy scripts, initial formation, the web
// health check. The file comes from whoever can push, so it is untrusted input: bounded in size, every
// field's type checked, and a broken file stops the push with a message naming the field.
import { PROCESS_TYPE, parseSizeText } from '../shared/validation.ts';

export const APP_JSON = 'app.json';
export const MAX_APP_JSON_BYTES = 64 * 1024;
const MAX_SCRIPT_LENGTH = 4096;
const MAX_QUANTITY = 1000;
const MAX_HEALTH_SECONDS = 3600;

export interface InitialFormation { quantity?: number; memoryMB?: number; cpus?: number }

export interface WebHealthCheck {
  path: string;
  /** How long new web instances get to answer on `path`; null: the installation's default. */
  timeoutSec: number | null;
}

export interface AppManifest {
  /** scripts.dokku.predeploy or scripts.predeploy: run in the new image before the release goes live. */
  predeploy: string | null;
  /** scripts.dokku.postdeploy: after every release that goes live (Dokku). */
  postdeployEveryRelease: string | null;
  /** scripts.postdeploy: once, after the app's first release (Heroku). */
  postdeployFirstRelease: string | null;
  /** formation: counts and sizes for process types the app does not run yet (later ps:scale wins). */
  formation: Record<string, InitialFormation>;
  health: WebHealthCheck | null;
}

export class AppJsonError extends Error {
  name = 'AppJsonError';
}

// Heroku's dyno sizes, so a Heroku app.json keeps its meaning; Berth sizes (512M, 1G/2) work as well.
const HEROKU_SIZES: Record<string, number> = {
  free: 512, eco: 512, hobby: 512, basic: 512, 'standard-1x': 512, 'standard-2x': 1024,
  'performance-m': 2560, 'performance-l': 14336, 'performance-l-ram': 30720, 'performance-xl': 63488, 'performance-2xl': 129024,
};

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function objectAt(value: unknown, where: string): Json | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new AppJsonError(`${where} must be an object`);
  return value;
}

function scriptAt(value: unknown, where: string): string | null {
  if (value === undefined || value === null) return null;
  // Heroku also allows {"command": "...", "size": "..."} for postdeploy.
  const command = isObject(value) ? value.command : value;
  if (typeof command !== 'string') throw new AppJsonError(`${where} must be a command string`);
  if (command.trim() === '') throw new AppJsonError(`${where} is empty`);
  if (command.length > MAX_SCRIPT_LENGTH) throw new AppJsonError(`${where} is longer than ${MAX_SCRIPT_LENGTH} characters`);
  if (command.includes('\0')) throw new AppJsonError(`${where} contains a NUL character`);
  return command;
}

function wholeNumberAt(value: unknown, where: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new AppJsonError(`${where} must be a whole number from ${min} to ${max}`);
  }
  return value as number;
}

function sizeAt(value: unknown, where: string): Pick<InitialFormation, 'memoryMB' | 'cpus'> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'string' || value.length > 40) throw new AppJsonError(`${where} must be a size like "standard-2X", "512M" or "1G/2"`);
  const heroku = HEROKU_SIZES[value.toLowerCase()];
  if (heroku !== undefined) return { memoryMB: heroku };
  const size = parseSizeText(value);
  if (!size || size.memoryMB === 0 || size.cpus === 0) throw new AppJsonError(`${where}: "${value}" is not a size like "standard-2X", "512M" or "1G/2"`);
  return size;
}

function parseFormation(value: unknown): Record<string, InitialFormation> {
  const formation = objectAt(value, 'formation') ?? {};
  const entries = Object.entries(formation);
  if (entries.length > 50) throw new AppJsonError('formation names more than 50 process types');
  const result: Record<string, InitialFormation> = {};
  for (const [type, raw] of entries) {
    if (!PROCESS_TYPE.test(type)) throw new AppJsonError(`formation: "${type.slice(0, 40)}" is not a process type (lowercase letters, digits, "-" and "_")`);
    const settings = objectAt(raw, `formation.${type}`) ?? {};
    const quantity = wholeNumberAt(settings.quantity, `formation.${type}.quantity`, 0, MAX_QUANTITY);
    result[type] = { ...(quantity === undefined ? {} : { quantity }), ...sizeAt(settings.size, `formation.${type}.size`) };
  }
  return result;
}

/** Dokku's `healthchecks.web`: the first startup check with a path (Berth checks web instances over HTTP). */
function parseHealth(value: unknown): WebHealthCheck | null {
  const checks = objectAt(value, 'healthchecks');
  if (!checks || checks.web === undefined) return null;
  if (!Array.isArray(checks.web) || checks.web.length > 20) throw new AppJsonError('healthchecks.web must be a list of at most 20 checks');
  let found: WebHealthCheck | null = null;
  checks.web.forEach((raw, i) => {
    const where = `healthchecks.web[${i}]`;
    const check = objectAt(raw, where);
    if (!check) throw new AppJsonError(`${where} must be an object`);
    const type = check.type ?? 'startup';
    if (typeof type !== 'string') throw new AppJsonError(`${where}.type must be a string`);
    if (check.path === undefined || type !== 'startup' || found) return;
    const path = check.path;
    if (typeof path !== 'string' || !/^\/[\x21-\x7e]{0,1023}$/.test(path)) {
      throw new AppJsonError(`${where}.path must start with "/" and hold only visible ASCII characters (at most 1024)`);
    }
    const attempts = wholeNumberAt(check.attempts, `${where}.attempts`, 1, 100);
    const timeout = wholeNumberAt(check.timeout, `${where}.timeout`, 1, 600);
    const wait = wholeNumberAt(check.wait, `${where}.wait`, 0, 600);
    const initialDelay = wholeNumberAt(check.initialDelay, `${where}.initialDelay`, 0, 600);
    const timed = [attempts, timeout, wait, initialDelay].some((n) => n !== undefined);
    // Berth probes until a deadline: Dokku's attempts × (timeout + wait) after the initial delay is that deadline.
    const budget = (initialDelay ?? 0) + (attempts ?? 5) * ((timeout ?? 5) + (wait ?? 5));
    found = { path, timeoutSec: timed ? Math.min(budget, MAX_HEALTH_SECONDS) : null };
  });
  return found;
}

/** The manifest in `text`; throws AppJsonError naming what is wrong. Unknown fields are ignored, as Heroku does. */
export function parseAppJson(text: string): AppManifest {
  if (Buffer.byteLength(text) > MAX_APP_JSON_BYTES) throw new AppJsonError(`it is larger than ${MAX_APP_JSON_BYTES / 1024} KB`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new AppJsonError(`it is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) throw new AppJsonError('it must hold a JSON object');
  const scripts = objectAt(doc.scripts, 'scripts') ?? {};
  const dokku = objectAt(scripts.dokku, 'scripts.dokku') ?? {};
  return {
    predeploy: scriptAt(dokku.predeploy, 'scripts.dokku.predeploy') ?? scriptAt(scripts.predeploy, 'scripts.predeploy'),
    postdeployEveryRelease: scriptAt(dokku.postdeploy, 'scripts.dokku.postdeploy'),
    postdeployFirstRelease: scriptAt(scripts.postdeploy, 'scripts.postdeploy'),
    formation: parseFormation(doc.formation),
    health: parseHealth(doc.healthchecks),
  };
}

/** One line for the push output: what of app.json this deploy uses. */
export function describeManifest(manifest: AppManifest): string | null {
  const parts: string[] = [];
  if (manifest.predeploy) parts.push('predeploy script');
  if (manifest.postdeployEveryRelease) parts.push('postdeploy script (every release)');
  if (manifest.postdeployFirstRelease) parts.push('postdeploy script (first release)');
  const types = Object.keys(manifest.formation);
  if (types.length) parts.push(`initial formation for ${types.join(', ')}`);
  if (manifest.health) parts.push(`web health check ${manifest.health.path}${manifest.health.timeoutSec ? ` within ${manifest.health.timeoutSec} s` : ''}`);
  return parts.length ? `app.json: ${parts.join(', ')}` : null;
}
