// Data directories from before the store was keyed by app id kept each app's log under its name
// (<dataDir>/logs/<name>). Once, at start, before anything is stored: an existing app's directory is
// renamed to its id, and a directory no app owns any more (the app was destroyed; late router lines
// re-created it) is removed, as destroying the app would have done. Lines in a renamed directory that
// are older than the app stay hidden from it (reads start at its creation: app-keys.ts, notBefore).
import fs from 'node:fs';
import path from 'node:path';
import { APP_NAME } from '../shared/validation.ts';
import { appLogKey, type AppDirectory } from './app-keys.ts';

export interface NameDirsReport { renamed: string[]; removed: string[] }

/** What to do with one entry of the logs directory; null: not a name-keyed app directory. */
export function nameDirAction(entry: string, owner: { id: number } | undefined, taken: (key: string) => boolean): 'rename' | 'remove' | null {
  if (!APP_NAME.test(entry)) return null; // ids, dot-directories (.router) and state files
  if (owner && !taken(appLogKey(owner.id))) return 'rename';
  // No app by that name, or its id directory exists already (a newer layout wins): the name's lines are gone with their app.
  return 'remove';
}

export function migrateNameDirs(dir: string, apps: AppDirectory): NameDirsReport {
  const report: NameDirsReport = { renamed: [], removed: [] };
  let entries: fs.Dirent[];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return report; }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const owner = apps.find(entry.name);
    const action = nameDirAction(entry.name, owner, (key) => fs.existsSync(path.join(dir, key)));
    if (action === 'rename') {
      fs.renameSync(path.join(dir, entry.name), path.join(dir, appLogKey(owner!.id)));
      report.renamed.push(entry.name);
    } else if (action === 'remove') {
      fs.rmSync(path.join(dir, entry.name), { recursive: true, force: true });
      report.removed.push(entry.name);
    }
  }
  return report;
}
