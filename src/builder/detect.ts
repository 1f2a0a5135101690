// Decides how to build a source tree, first match wins: the user's Dockerfile, a Node.js app,
// a static site, a Procfile-only app.
import type { BuildKind } from './types.ts';
import type { SourceTree } from './source.ts';
import { BuildError } from './errors.ts';
import { parseProcfile, type Procfile } from './procfile.ts';

export interface Detection {
  kind: BuildKind;
  procfile: Procfile | null;
}

export async function detect(tree: SourceTree, dockerfilePath: string): Promise<Detection> {
  const procfile = await readProcfile(tree);
  const kind = detectKind(tree, normaliseRepoPath(dockerfilePath), procfile !== null);
  return { kind, procfile };
}

function detectKind(tree: SourceTree, dockerfilePath: string, hasProcfile: boolean): BuildKind {
  if (tree.has(dockerfilePath)) return 'dockerfile';
  if (tree.has('package.json')) return 'node';
  if (tree.has('index.html')) return 'static';
  if (hasProcfile) return 'procfile';
  throw new BuildError(
    'cannot tell how to build this app; looked for, in this order: ' +
      `${dockerfilePath} (built as is; BERTH_DOCKERFILE names another path), ` +
      'package.json (Node.js app), index.html at the root (static site), Procfile (generic app)',
  );
}

async function readProcfile(tree: SourceTree): Promise<Procfile | null> {
  const text = await tree.readText('Procfile');
  if (text === null) {
    if (tree.has('Procfile')) throw new BuildError('Procfile must be a regular file');
    return null;
  }
  return parseProcfile(text);
}

/** The Dockerfile path as the user wrote it ("./docker/Dockerfile"), as the tar names it. */
export function normaliseRepoPath(repoPath: string): string {
  const cleaned = repoPath.trim().replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (cleaned === '' || cleaned.startsWith('/') || cleaned.split('/').includes('..')) {
    throw new BuildError(`Dockerfile path "${repoPath}" must be a relative path inside the repository`);
  }
  return cleaned;
}
