// What a Python app needs built: which manifest pip installs from, whether that install needs the
// whole source, and how the app starts when the Procfile does not say.
import type { SourceTree } from './source.ts';
import { BuildError } from './errors.ts';
import { readPythonVersionFile, readRuntimeTxt, type AskedVersion } from './language-versions.ts';

export const PYTHON_VENV = '/app/.venv';

export interface PythonPlan {
  manifest: 'requirements.txt' | 'pyproject.toml';
  /** Copied before the install so the install layer is reused while these files are unchanged. */
  manifestFiles: string[];
  installCommand: string;
  /** pip reads local paths (`-r other.txt`, `-e .`, `pip install .`): then the whole source goes first. */
  installNeedsSource: boolean;
  /** The default web command, used when the Procfile has no `web:` line. */
  startCommand: string[] | null;
  /** The Python version the app asks for (runtime.txt, else .python-version); checked against the stack's. */
  asked: AskedVersion | null;
}

/** Files that make a tree a Python app; pyproject.toml only when pip can install the project it describes. */
export async function pythonManifest(tree: SourceTree): Promise<PythonPlan['manifest'] | null> {
  if (tree.has('requirements.txt')) return 'requirements.txt';
  const pyproject = await tree.readText('pyproject.toml');
  return pyproject !== null && isInstallableProject(pyproject) ? 'pyproject.toml' : null;
}

/** A [project] table (PEP 621) or Poetry's [tool.poetry]; a pyproject.toml that only configures tools is not an app. */
export function isInstallableProject(pyprojectText: string): boolean {
  return /^\s*\[\s*(project|tool\.poetry)\s*\]\s*(#.*)?$/m.test(pyprojectText);
}

export async function planPythonApp(tree: SourceTree): Promise<PythonPlan> {
  const manifest = await pythonManifest(tree);
  if (manifest === null) throw new BuildError('a Python app needs requirements.txt, or a pyproject.toml with a [project] or [tool.poetry] section');
  const venv = `python3 -m venv ${PYTHON_VENV}`;
  const pip = `${PYTHON_VENV}/bin/pip install`;
  const requirements = manifest === 'requirements.txt' ? await tree.readText('requirements.txt') : null;
  if (manifest === 'requirements.txt' && requirements === null) throw new BuildError('requirements.txt must be a regular file');
  return {
    manifest,
    manifestFiles: [manifest],
    installCommand: manifest === 'requirements.txt' ? `${venv} && ${pip} -r requirements.txt` : `${venv} && ${pip} .`,
    // pip cannot install only a project's dependencies, so `pip install .` always needs the source.
    installNeedsSource: requirements === null || requirementsReadLocalFiles(requirements),
    startCommand: startCommand(tree),
    asked: await askedPython(tree),
  };
}

/** Options and requirements that name files of the repository (nested requirement files, local packages). */
export function requirementsReadLocalFiles(text: string): boolean {
  return text.split(/\r?\n/).some((raw) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return false;
    return /^(-r|--requirement|-c|--constraint|-e|--editable)(\s|=|$)/.test(line)
      || /^-[rce]\S/.test(line)
      || line.startsWith('.') || line.startsWith('/') || /(^|[\s@])file:/.test(line);
  });
}

/** Heroku's Python default is gunicorn, which is not there offline; a plain script is. */
function startCommand(tree: SourceTree): string[] | null {
  const entry = ['app.py', 'main.py'].find((name) => tree.has(name));
  return entry ? ['python', entry] : null;
}

/** runtime.txt wins over .python-version, as on Heroku. */
async function askedPython(tree: SourceTree): Promise<AskedVersion | null> {
  const readers: [string, (text: string) => string | null][] = [['runtime.txt', readRuntimeTxt], ['.python-version', readPythonVersionFile]];
  for (const [file, read] of readers) {
    const text = await tree.readText(file);
    const version = text === null ? null : read(text);
    if (version !== null) return { language: 'Python', version, file };
  }
  return null;
}
