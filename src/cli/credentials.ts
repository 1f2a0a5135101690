// Where `berth login` keeps the API URL and token, and how the CLI picks the ones to use.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { apiBaseUrl } from './client.ts';
import { CliError } from './command.ts';

export interface Credentials {
  api: string;
  token: string;
}

export const DEFAULT_API_URL = 'http://localhost:7070';

export function credentialsPath(env: NodeJS.ProcessEnv): string {
  const dir = env.BERTH_CONFIG_DIR || path.join(os.homedir(), '.config', 'berth');
  return path.join(dir, 'credentials.json');
}

export function loadCredentials(env: NodeJS.ProcessEnv): Credentials | null {
  const file = credentialsPath(env);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<Credentials>;
    if (typeof parsed.api === 'string' && typeof parsed.token === 'string') return { api: parsed.api, token: parsed.token };
  } catch {
    // reported below, same as a file with the wrong shape
  }
  throw new CliError(`${file} is damaged; run "berth login" again`);
}

/** Written to a temp file and renamed so the token is never readable by others, not even briefly. */
export function saveCredentials(env: NodeJS.ProcessEnv, credentials: Credentials): string {
  const file = credentialsPath(env);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(temp, file);
  return file;
}

/** Returns whether there was anything to remove. */
export function removeCredentials(env: NodeJS.ProcessEnv): boolean {
  try {
    fs.unlinkSync(credentialsPath(env));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * BERTH_API_URL / BERTH_TOKEN win over the stored login. The stored token is only sent to the
 * server it was issued by, never to another one named by BERTH_API_URL.
 */
export function resolveCredentials(env: NodeJS.ProcessEnv): Credentials {
  const stored = env.BERTH_API_URL && env.BERTH_TOKEN ? null : loadCredentials(env);
  const api = env.BERTH_API_URL || stored?.api || DEFAULT_API_URL;
  const storedToken = stored && apiBaseUrl(stored.api) === apiBaseUrl(api) ? stored.token : undefined;
  const token = env.BERTH_TOKEN || storedToken;
  if (!token) throw new CliError(`not logged in to ${api}: run "berth login" or set BERTH_TOKEN`);
  return { api, token };
}
