// What a Go app needs built: its module name (the binary is named after it), which packages to
// build, whether modules are vendored, and which binary serves the web.
import type { SourceTree } from './source.ts';
import { BuildError } from './errors.ts';

export const GO_BIN_DIR = '/app/bin';

export interface GoPlan {
  module: string;
  /** Built with -mod=vendor from vendor/ (no downloads); otherwise -mod=mod after `go mod download`. */
  vendored: boolean;
  /** Copied before `go mod download` so that layer is reused while they are unchanged. */
  manifestFiles: string[];
  buildCommand: string;
  /** The default web command, used when the Procfile has no `web:` line. */
  startCommand: string[] | null;
}

export async function planGoApp(tree: SourceTree): Promise<GoPlan> {
  const goMod = await tree.readText('go.mod');
  if (goMod === null) throw new BuildError('go.mod must be a regular file');
  const module = moduleName(goMod);
  const binary = binaryName(module);
  const vendored = tree.has('vendor/modules.txt');
  const build = 'go build -trimpath -ldflags="-s -w"';
  let buildCommand: string;
  let startBinary: string | null;
  if (tree.list('').some((name) => name.endsWith('.go') && !name.endsWith('_test.go'))) {
    // The root package is the app, as with Heroku's Go buildpack.
    buildCommand = `${build} -o ${GO_BIN_DIR}/${binary} .`;
    startBinary = binary;
  } else if (tree.has('cmd')) {
    // No root package: every main package under the module is built into the bin directory.
    buildCommand = `${build} -o ${GO_BIN_DIR}/ ./...`;
    const commands = tree.list('cmd');
    startBinary = commands.includes(binary) ? binary : commands.length === 1 ? commands[0]! : null;
  } else {
    throw new BuildError(`go.mod (module ${module}) has no Go files at the root and no cmd/ directory: nothing to build`);
  }
  return {
    module,
    vendored,
    manifestFiles: ['go.mod', ...(tree.has('go.sum') ? ['go.sum'] : [])],
    buildCommand,
    startCommand: startBinary === null ? null : [`${GO_BIN_DIR}/${startBinary}`],
  };
}

/** The `module` directive; its path may be quoted and followed by a comment. */
export function moduleName(goMod: string): string {
  for (const raw of goMod.split(/\r?\n/)) {
    const match = /^\s*module\s+("([^"]+)"|`([^`]+)`|(\S+))/.exec(raw.replace(/\/\/.*$/, ''));
    if (match) return (match[2] ?? match[3] ?? match[4])!;
  }
  throw new BuildError('go.mod has no module directive');
}

/** `go build`'s own naming: the last path element, skipping a major-version suffix (example.com/app/v2 → app). */
export function binaryName(module: string): string {
  const parts = module.split('/').filter(Boolean);
  let name = parts.at(-1) ?? '';
  if (/^v\d+$/.test(name) && parts.length > 1) name = parts.at(-2)!;
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '');
  return safe === '' ? 'app' : safe;
}
