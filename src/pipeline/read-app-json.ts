// The pushed commit's app.json, read and checked before the build; absent means no manifest.
import type { PushEvent, RefUpdate } from '../git/types.ts';
import { APP_JSON, AppJsonError, MAX_APP_JSON_BYTES, describeManifest, parseAppJson, type AppManifest } from './app-json.ts';

export async function readAppManifest(push: PushEvent, update: RefUpdate, say: (line: string) => void): Promise<AppManifest | null> {
  let bytes: Buffer | null;
  try {
    bytes = await push.readFile(update, APP_JSON, MAX_APP_JSON_BYTES);
  } catch (err) {
    throw new Error(`${APP_JSON} cannot be used: ${(err as Error).message}`);
  }
  if (bytes === null) return null;
  try {
    const manifest = parseAppJson(bytes.toString('utf8'));
    say(describeManifest(manifest) ?? `${APP_JSON}: nothing Berth uses (scripts, formation, healthchecks)`);
    return manifest;
  } catch (err) {
    if (err instanceof AppJsonError) throw new Error(`${APP_JSON} is invalid: ${err.message}`);
    throw err;
  }
}
