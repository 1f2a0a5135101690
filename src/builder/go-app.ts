// What a Go app needs built: its module name (the binary is named after it), which packages to
// build, whether modules are vendored, and which binary serves the web. An app without go.mod (GOPATH
// style: .go files at the root) gets a module created for the build.
import type { SourceTree } from './source.ts';
import { BuildError } from './errors.ts';
import { readGoDirective, type AskedVersion } from './language-versions.ts';

export const GO_BIN_DIR = '/app/bin';

export interface GoPlan {
  module: string;
  /** Built with -mod=vendor from vendor/ (no downloads); otherwise -mod=mod after `go mod download`. */
  vendored: boolean;
  /** Copied before `go mod download` so that layer is reused while they are unchanged. */
  manifestFiles: string[];
  /** No go.mod: `go mod init` makes one in the build (the module is then the binary's name). */
  createsModule: boolean;
  /** go.mod's `go` line: the least Go the module needs; checked against the stack's. */
  asked: AskedVersion | null;
  buildCommand: string;
  /** The default web command, used when the Procfile has no `web:` line. */
  startCommand: string[] | null;
}

const BUILD = 'go build -trimpath -ldflags="-s -w"';

/** Go files of the root package (tests aside): what makes a tree without go.mod a Go app. */
export function hasRootGoFiles(tree: SourceTree): boolean {
  return tree.list('').some((name) => name.endsWith('.go') && !name.endsWith('_test.go'));
}

/** `procfileWeb` names the binary of an app without go.mod when it runs one from bin/ (`web: bin/app`). */
export async function planGoApp(tree: SourceTree, procfileWeb?: string): Promise<GoPlan> {
  const goMod = await tree.readText('go.mod');
  if (goMod === null) {
    if (tree.has('go.mod')) throw new BuildError('go.mod must be a regular file');
    return planWithoutModule(procfileWeb);
  }
  const module = moduleName(goMod);
  const binary = binaryName(module);
  const vendored = tree.has('vendor/modules.txt');
  const build = BUILD;
  let buildCommand: string;
  let startBinary: string | null;
  if (hasRootGoFiles(tree)) {
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
    createsModule: false,
    buildCommand,
    startCommand: startBinary === null ? null : [`${GO_BIN_DIR}/${startBinary}`],
    asked: goVersionAsked(goMod),
  };
}

/**
 * GOPATH style: the root package is the app, built as a module made on the spot. The binary (and module) is
 * named as the Procfile runs it (`web: bin/app`, Heroku's layout), else `app`. Imports beyond the standard
 * library are resolved by `go build` through GOPROXY (a build arg), as with a go.mod that lacks them.
 */
function planWithoutModule(procfileWeb: string | undefined): GoPlan {
  const binary = procfileBinary(procfileWeb) ?? 'app';
  return {
    module: binary,
    vendored: false,
    manifestFiles: [],
    createsModule: true,
    buildCommand: `go mod init ${binary} && ${BUILD} -o ${GO_BIN_DIR}/${binary} .`,
    startCommand: [`${GO_BIN_DIR}/${binary}`],
    asked: null,
  };
}

/** The binary a Procfile command runs from bin/ ("bin/app", "./bin/app --flag", "/app/bin/app"); null otherwise. */
export function procfileBinary(command: string | undefined): string | null {
  const match = /^(?:\.\/|\/app\/)?bin\/([A-Za-z0-9][A-Za-z0-9_-]*)(?:\s|$)/.exec(command?.trim() ?? '');
  return match ? match[1]! : null;
}

function goVersionAsked(goMod: string): AskedVersion | null {
  const version = readGoDirective(goMod);
  return version === null ? null : { language: 'Go', version, file: 'go.mod' };
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
