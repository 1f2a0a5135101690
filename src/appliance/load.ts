// The appliance as this machine has it: the environment over the settings an earlier run saved.
import fs from 'node:fs';
import path from 'node:path';
import { resolveAppliance, type Appliance } from './settings.ts';

export function loadAppliance(env: NodeJS.ProcessEnv = process.env): Appliance {
  let saved: string | null = null;
  try {
    saved = fs.readFileSync(path.join(env.BERTH_ETC_DIR || '/etc/berth', 'berth.env'), 'utf8');
  } catch { /* first run */ }
  return resolveAppliance(env, saved);
}
