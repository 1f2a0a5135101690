// How dist/berth holds and compiles its program (src/executable/main.ts bundled): an asset of the executable,
// run by the launcher (src/executable/launcher.ts) as a CommonJS module with V8's code cache, which the build
// (scripts/build-executable.mjs) makes with programCodeCache() under the executable's own Node and flags.
import vm from 'node:vm';

/** Asset names inside the executable. */
export const PROGRAM_ASSET = 'berth-program.cjs';
export const PROGRAM_CACHE_ASSET = 'berth-program.cache';

/** A CommonJS module's wrapper parameters, as Node gives a main script. */
const PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];

/** The program as a function of PARAMS; a cache V8 rejects (another Node, other flags) only costs compile time. */
export function compileProgram(source: string, filename: string, cachedData?: Buffer): Function {
  return vm.compileFunction(source, PARAMS, { filename, cachedData });
}

/** V8's code cache for the program's source (its top-level code compiled, nothing run). */
export function programCodeCache(source: string): Buffer {
  const compiled = vm.compileFunction(source, PARAMS, { filename: PROGRAM_ASSET, produceCachedData: true }) as Function & { cachedData?: Buffer };
  if (!compiled.cachedData) throw new Error('V8 produced no code cache for the program');
  return compiled.cachedData;
}
