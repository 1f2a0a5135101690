// The main script of dist/berth (scripts/build-executable.mjs makes it), kept a few KiB so that git's
// pre-receive hook, `berth git-hook`, which runs once per push, starts as fast as Node itself: it runs the
// hook (src/git/hook.ts) and nothing else. Every other command runs the program (src/executable/main.ts,
// 8 MB of bundled source), embedded as an asset with V8's code cache for it (src/executable/program.ts).
// The program sees what a main script sees: CommonJS, a require() of Node's built-in modules, this module.
// Bundled as CommonJS (Node 24 runs an executable's main script only as CommonJS): no top-level await here.
import { getRawAsset } from 'node:sea';
import { runPreReceiveHook } from '../git/hook.ts';
import { PROGRAM_ASSET, PROGRAM_CACHE_ASSET, compileProgram } from './program.ts';

function runProgram(): void {
  // Views of the executable's own bytes, not copies.
  const source = Buffer.from(getRawAsset(PROGRAM_ASSET)).toString('utf8');
  let cachedData: Buffer | undefined;
  try {
    cachedData = Buffer.from(getRawAsset(PROGRAM_CACHE_ASSET));
  } catch { /* built for another machine: no code cache, V8 compiles as it goes */ }
  compileProgram(source, __filename, cachedData).call(module.exports, module.exports, require, module, __filename, __dirname);
}

if (process.argv[2] === 'git-hook') {
  runPreReceiveHook().catch((err: unknown) => {
    process.stderr.write(`berth: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  runProgram();
}
