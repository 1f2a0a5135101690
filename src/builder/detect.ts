// Decides how to build a source tree, first match wins: the user's Dockerfile, a Node.js app
// (package.json), a Python app (requirements.txt, or an installable pyproject.toml), a Go app
// (go.mod, or .go files at the root without one), a static site (index.html), a Procfile-only app. Languages come before index.html
// because their apps often carry one; Node before Python before Go is Heroku's order.
import type { BuildKind } from './types.ts';
import type { SourceTree } from './source.ts';
import { BuildError } from './errors.ts';
import { parseProcfile, type Procfile } from './procfile.ts';
import { pythonManifest } from './python-app.ts';
import { hasRootGoFiles } from './go-app.ts';

export interface Detection {
  kind: BuildKind;
  procfile: Procfile | null;
}

export async function detect(tree: SourceTree, dockerfilePath: string): Promise<Detection> {
  const procfile = await readProcfile(tree);
  const kind = await detectKind(tree, normaliseRepoPath(dockerfilePath), procfile !== null);
  return { kind, procfile };
}

async function detectKind(tree: SourceTree, dockerfilePath: string, hasProcfile: boolean): Promise<BuildKind> {
  if (tree.has(dockerfilePath)) return 'dockerfile';
  if (tree.has('package.json')) return 'node';
  if ((await pythonManifest(tree)) !== null) return 'python';
  if (tree.has('go.mod') || hasRootGoFiles(tree)) return 'go';
  if (tree.has('index.html')) return 'static';
  if (hasProcfile) return 'procfile';
  throw new BuildError(
    'cannot tell how to build this app; looked for, in this order: ' +
      `${dockerfilePath} (built as is; BERTH_DOCKERFILE names another path), ` +
      'package.json (Node.js app), requirements.txt or pyproject.toml with [project] (Python app), ' +
      'go.mod or .go files at the root (Go app), index.html at the root (static site), Procfile (generic app)',
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
