// The language version an app asks for, read as its own tools read it, and what Berth says about it next to the
// version its stack has: Python from runtime.txt (Heroku's, which wins) or .python-version (pyenv's), Go from
// go.mod's `go` line (the least version the module needs). Pure: the stack's version comes from stack-version.ts.

export interface AskedVersion {
  language: 'Python' | 'Go';
  /** As written, e.g. "3.12", "3.12.1", "pypy3.10-7.3.12", "1.25.0". */
  version: string;
  /** The file that asks for it. */
  file: string;
}

/** What the build prints, and the error that stops it when the stack is too old. */
export interface VersionVerdict { line: string; error: string | null }

const STACK_SETTING = { Python: 'BERTH_STACK_PYTHON', Go: 'BERTH_STACK_GO' } as const;

/**
 * .python-version as pyenv reads it: the first word of each line; blank lines and lines starting with `#`
 * skipped, as are names pyenv rejects (`..`, or a path); the first version left is the one `python` runs.
 */
export function readPythonVersionFile(text: string): string | null {
  for (const line of text.split(/\r?\n/)) {
    const word = line.trim().split(/\s+/)[0] ?? '';
    if (word === '' || word.startsWith('#') || word.includes('/') || word.includes('..')) continue;
    return word;
  }
  return null;
}

/** runtime.txt as Heroku reads it: `python-3.12.1` (or `python-3.12`). */
export function readRuntimeTxt(text: string): string | null {
  const word = text.trim().split(/\s+/)[0] ?? '';
  return word === '' ? null : word.replace(/^python-/, '');
}

/** go.mod's `go` directive (`go 1.25.0`, `go 1.21`), comments aside; null when it has none. */
export function readGoDirective(goMod: string): string | null {
  for (const raw of goMod.split(/\r?\n/)) {
    const match = /^\s*go\s+(\S+)\s*$/.exec(raw.replace(/\/\/.*$/, ''));
    if (match) return match[1]!;
  }
  return null;
}

/** [major, minor, patch] of "3.12.1", "3.12", "1.25rc1" (patch 0 when absent); null for anything else ("system", "pypy3.10"). */
export function parseVersion(version: string): [number, number, number] | null {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?(?:[a-z]+\d*|-dev)?$/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : null;
}

/** The official image to suggest for a version (the Docker Hub names the README documents). */
export function officialImage(language: AskedVersion['language'], major: number, minor: number): string {
  return language === 'Python' ? `python:${major}.${minor}-slim` : `golang:${major}.${minor}`;
}

/**
 * Python: a newer minor than the stack's stops the build (an older one or another patch runs on the stack's).
 * Go: a `go` line newer than the toolchain stops it (Go would say "invalid go version" or try to download one).
 * `stack` is the stack's version ("3.11.2", "1.19.8"); null when it could not be told.
 */
export function versionVerdict(language: AskedVersion['language'], asked: AskedVersion | null, stack: string | null, stackImage: string): VersionVerdict {
  const setting = STACK_SETTING[language];
  const on = `${language === 'Python' ? 'runs on' : 'is built with'} ${stack === null ? `the ${language} stack` : `${language} ${stack}`} (${stackImage}, ${setting})`;
  if (asked === null) return { line: stack === null ? '' : `The app ${on}`, error: null };
  const wanted = parseVersion(asked.version);
  const have = stack === null ? null : parseVersion(stack);
  const tooOld = wanted !== null && have !== null && (language === 'Python'
    ? compare([wanted[0], wanted[1], 0], [have[0], have[1], 0]) > 0
    : compare(wanted, have) > 0);
  if (tooOld) {
    return {
      line: '',
      error: `this app asks for ${language} ${asked.version} (${asked.file}); the ${language} stack here (${stackImage}) has ${stack} — ` +
        `set ${setting}=${officialImage(language, wanted[0], wanted[1])} on the Berth server (or any image with ${language} ` +
        `${wanted[0]}.${wanted[1]} or newer that the engine has or can pull; README, "Newer language versions")`,
    };
  }
  const what = wanted === null ? `"${asked.version}" (not a ${language} version Berth can check)` : `${language} ${asked.version}`;
  return { line: `${asked.file} asks for ${what}; the app ${on}`, error: null };
}

function compare(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}
