// Which of the data dir's files a backup carries, walked without following links. A git repository's refs
// are listed before its objects: objects only ever get added, so refs copied first never name an object
// the copy lacks, even while someone pushes.
import fs from 'node:fs';
import path from 'node:path';

/** Every regular file under `dir` (relative paths with '/'), sorted; links and sockets are left out. */
export function listFiles(dir: string, skip: (relative: string) => boolean = () => false): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(path.join(dir, relative), { withFileTypes: true }); } catch { return; }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      if (skip(child)) continue;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) found.push(child);
    }
  };
  walk('');
  return found;
}

/** A bare repository's files in backup order: everything else, then objects/ (push quarantines left out). */
export function repositoryFiles(repoDir: string): string[] {
  const files = listFiles(repoDir, (relative) => relative.startsWith('objects/tmp_objdir-incoming-'));
  const isObject = (file: string) => file.startsWith('objects/');
  return [...files.filter((file) => !isObject(file)), ...files.filter(isObject)];
}

/** Bytes of every regular file under `dir` (0 when it does not exist). */
export function diskUse(dir: string): number {
  return listFiles(dir).reduce((sum, file) => {
    try { return sum + fs.statSync(path.join(dir, file)).size; } catch { return sum; }
  }, 0);
}

/** The folders git needs in a bare repository even when empty (a tar of files alone does not keep them). */
export const GIT_SKELETON = ['refs/heads', 'refs/tags', 'objects/info', 'objects/pack'];
