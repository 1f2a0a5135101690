// What a Node.js app needs built: which installer its lockfile asks for, whether it has a build
// script, and how it starts.
import type { SourceTree } from './source.ts';
import { BuildError } from './errors.ts';

export type Installer = 'npm' | 'yarn' | 'pnpm';

export interface NodePlan {
  installer: Installer;
  /** Copied before the install so the install layer is reused while these files are unchanged. */
  manifestFiles: string[];
  /** Dependency install including dev dependencies (a build script usually needs them). */
  installCommand: string;
  buildCommand: string | null;
  /** Removes dev dependencies after the build; null when there are none or the installer has no safe way. */
  pruneCommand: string | null;
  /**
   * The app's own install-time scripts (postinstall, prepare, ...) may read any file, so for such
   * apps the whole source is copied before the install: correct, at the price of the layer cache.
   */
  installNeedsSource: boolean;
  /** The default web command, used when the Procfile has no `web:` line. */
  startCommand: string[] | null;
}

interface PackageJson {
  main?: unknown;
  devDependencies?: unknown;
  scripts?: Record<string, unknown>;
}

const CONFIG_FILES = ['.npmrc', '.yarnrc', '.yarnrc.yml', 'pnpm-workspace.yaml'];
const INSTALL_LIFECYCLE_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

const CORE_PACK_MISSING =
  'command -v corepack >/dev/null || { echo "berth: this app has a $BERTH_LOCKFILE, which needs corepack, but the node stack image has none (scripts/base-images.sh adds it)" >&2; exit 1; }';

export async function planNodeApp(tree: SourceTree): Promise<NodePlan> {
  const pkg = parsePackageJson(await tree.readText('package.json'));
  const scripts = pkg.scripts ?? {};
  const lockfile = ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml'].find((name) => tree.has(name)) ?? null;
  const installer: Installer = lockfile === 'yarn.lock' ? 'yarn' : lockfile === 'pnpm-lock.yaml' ? 'pnpm' : 'npm';
  const yarnBerry = installer === 'yarn' && tree.has('.yarnrc.yml');
  return {
    installer,
    manifestFiles: ['package.json', ...(lockfile ? [lockfile] : []), ...CONFIG_FILES.filter((name) => tree.has(name))],
    installCommand: installCommand(installer, lockfile),
    buildCommand: typeof scripts.build === 'string' ? 'npm run build' : null,
    pruneCommand: hasDevDependencies(pkg) ? pruneCommand(installer, yarnBerry) : null,
    installNeedsSource: INSTALL_LIFECYCLE_SCRIPTS.some((name) => typeof scripts[name] === 'string'),
    startCommand: startCommand(pkg, tree),
  };
}

function parsePackageJson(text: string | null): PackageJson {
  if (text === null) throw new BuildError('package.json must be a regular file');
  let pkg: unknown;
  try {
    pkg = JSON.parse(text);
  } catch (err) {
    throw new BuildError(`package.json is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) throw new BuildError('package.json must hold a JSON object');
  const { scripts } = pkg as PackageJson;
  if (scripts !== undefined && (typeof scripts !== 'object' || scripts === null)) throw new BuildError('package.json "scripts" must be an object');
  return pkg as PackageJson;
}

/** Dev dependencies are installed too: NODE_ENV=production (the base image's) would leave them out. */
function installCommand(installer: Installer, lockfile: string | null): string {
  if (installer === 'yarn') return `BERTH_LOCKFILE=yarn.lock; ${CORE_PACK_MISSING}; NODE_ENV=development corepack yarn install --frozen-lockfile`;
  if (installer === 'pnpm') return `BERTH_LOCKFILE=pnpm-lock.yaml; ${CORE_PACK_MISSING}; NODE_ENV=development corepack pnpm install --frozen-lockfile`;
  return lockfile ? 'npm ci --include=dev' : 'npm install --include=dev';
}

function hasDevDependencies(pkg: PackageJson): boolean {
  const dev = pkg.devDependencies;
  return typeof dev === 'object' && dev !== null && Object.keys(dev).length > 0;
}

function pruneCommand(installer: Installer, yarnBerry: boolean): string | null {
  if (installer === 'npm') return 'npm prune --omit=dev';
  if (installer === 'pnpm') return 'corepack pnpm prune --prod';
  // Yarn 2+ can only drop dev dependencies with a plugin; its apps keep them.
  return yarnBerry ? null : 'corepack yarn install --production --frozen-lockfile --ignore-scripts --prefer-offline';
}

/** Heroku's order: `npm start`, else node on package.json's main, server.js or index.js. */
function startCommand(pkg: PackageJson, tree: SourceTree): string[] | null {
  if (typeof pkg.scripts?.start === 'string') return ['npm', 'start'];
  // `main` may name a file the build script creates, so it is trusted without checking.
  if (typeof pkg.main === 'string' && pkg.main.trim() !== '') return ['node', pkg.main.trim()];
  const entry = ['server.js', 'index.js'].find((name) => tree.has(name));
  return entry ? ['node', entry] : null;
}
