#!/usr/bin/env node
// Bundles the server and the CLI into two self-contained ESM files under dist/, so a machine
// running Berth needs only Node 24, dist/ and the one native addon (better-sqlite3) beside it.
//
//   node scripts/build.mjs             (npm run build)
//   node scripts/build.mjs --bundles   (the bundles and the addon only, in seconds: scripts/test.sh runs its servers from them)
//
// Outputs: dist/berth-server.mjs, dist/berth.mjs (executable, with a shebang), dist/git-hook.mjs (git's
// pre-receive hook, which the server from the bundle runs for each push), their .map files,
// and dist/better_sqlite3.node, which the server loads from beside its bundle (src/state passes
// it to better-sqlite3 as nativeBinding, so no node_modules lookup happens at run time); and
// dist/berth, the single executable holding Node and all of the above (scripts/build-executable.mjs).
import { build } from 'esbuild';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWebAssets } from './build-web.mjs';
import { buildExecutable, bundlePlanningWorker, nodeForArch } from './build-executable.mjs';
import { deferDockerRequires } from './build-plugins.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
// better-sqlite3 13 ships prebuilt addons per platform; a locally compiled one (node-gyp) wins if present.
const addonSrc = [
  path.join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
  path.join(root, `node_modules/better-sqlite3/prebuilds/${process.platform}-${process.arch}.node`),
].find((file) => existsSync(file)) ?? path.join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');

// Bundled CommonJS dependencies (dockerode, ssh2, better-sqlite3's JS side, ...) call require()
// and read __dirname/__filename, none of which exist in an ES module. The banner provides them.
// The imported helpers get aliased names because a bundled module may itself import
// `createRequire` at top level, and a second top-level binding of the same name is a
// SyntaxError when the bundle loads. For the same reason __dirname/__filename are not declared
// under their own names: `define` below points only the *free* uses at the shims, so a module
// that declares its own `const __dirname` keeps it. (A module-level `require` is renamed by
// esbuild itself, since it reserves that name.)
const cjsShims = [
  "import { createRequire as __berthCreateRequire } from 'module';",
  "import { fileURLToPath as __berthFileURLToPath } from 'url';",
  "import { dirname as __berthDirname } from 'path';",
  'const require = __berthCreateRequire(import.meta.url);',
  'const __berth_filename = __berthFileURLToPath(import.meta.url);',
  'const __berth_dirname = __berthDirname(__berth_filename);',
].join('\n');

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // Identifiers kept (stack traces name functions; the .map files give the lines). Whitespace and comments
  // go: the server holds its whole source in memory, and a comment's “quotes” made that a two-byte string
  // (22 MB resident for an 11 MB file; now one byte per character, and fewer of them).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // Native addons cannot be bundled: *.node files are loaded at run time (better-sqlite3's is
  // copied beside the bundle below), and cpu-features is an optional native dependency of
  // ssh2 (via dockerode) that ssh2 loads inside a try/catch.
  external: ['*.node', 'cpu-features'],
  define: { __dirname: '__berth_dirname', __filename: '__berth_filename' },
  absWorkingDir: root,
  plugins: [deferDockerRequires],
};

const targets = [
  { entry: 'src/server/main.ts', out: 'dist/berth-server.mjs', banner: cjsShims },
  { entry: 'src/cli/main.ts', out: 'dist/berth.mjs', banner: cjsShims, shebang: true },
  // Git's pre-receive hook alone (a few KiB): the server runs it for every push instead of parsing itself again.
  { entry: 'src/server/git-hook.ts', out: 'dist/git-hook.mjs', banner: '' },
];

// esbuild keeps an entry's own `#!` line and puts it above the banner, so the shebang is added
// only when the entry has none: two `#!` lines would be a SyntaxError.
function bannerFor(t) {
  if (!t.shebang || readFileSync(path.join(root, t.entry), 'utf8').startsWith('#!')) return t.banner;
  return `#!/usr/bin/env node\n${t.banner}`;
}

function kib(file) {
  return `${(statSync(file).size / 1024).toFixed(1).padStart(8)} KiB`;
}

async function main() {
  const missing = targets.map((t) => t.entry).filter((e) => !existsSync(path.join(root, e)));
  if (missing.length) throw new Error(`entry point(s) not found: ${missing.join(', ')}`);
  if (!existsSync(addonSrc)) {
    throw new Error(`${path.relative(root, addonSrc)} is missing: run \`npm ci\` (with Node 24 and npm_config_nodedir) first`);
  }
  mkdirSync(dist, { recursive: true });

  const started = performance.now();
  // The web console's assets are embedded in the server bundle (src/web/assets.ts reads them).
  const web = await buildWebAssets();
  const planningWorker = await bundlePlanningWorker(root);
  const results = await Promise.all(targets.map((t) => build({
    ...common,
    entryPoints: [t.entry],
    outfile: t.out,
    write: false,
    banner: { js: bannerFor(t) },
    ...(t.out === 'dist/berth-server.mjs'
      ? { define: { ...common.define, BERTH_WEB_ASSETS: JSON.stringify(web.files), BERTH_PLANNING_WORKER: JSON.stringify(planningWorker) } }
      : {}),
  })));
  // Each file is written beside its place and renamed into it: a server or test starting from dist/ meanwhile
  // reads the old file or the new one, never half of one.
  for (const file of results.flatMap((r) => r.outputFiles)) {
    writeFileSync(`${file.path}.tmp`, file.contents);
    renameSync(`${file.path}.tmp`, file.path);
  }
  for (const t of targets) if (t.shebang) chmodSync(path.join(root, t.out), 0o755);

  // Copied under another name and renamed into place: a running server has the old file mapped
  // into memory, and overwriting it in place could crash that server.
  const addonOut = path.join(dist, 'better_sqlite3.node');
  copyFileSync(addonSrc, `${addonOut}.tmp`);
  renameSync(`${addonOut}.tmp`, addonOut);

  const bundled = performance.now();
  if (process.argv.includes('--bundles')) {
    console.log(`build: bundles done in ${Math.round(bundled - started)} ms (no executables: --bundles)`);
    return;
  }
  const version = process.env.BERTH_BUILD_VERSION || undefined;
  const executable = await buildExecutable({ root, addonSrc, webFiles: web.files, version });
  const other = await buildOtherMachine(web.files, version);

  console.log(`build: done in ${Math.round(performance.now() - started)} ms (executables: ${Math.round(performance.now() - bundled)} ms${executable.stripped ? '' : ', not stripped: binutils\' strip is missing'})`);
  for (const file of [...targets.map((t) => path.join(root, t.out)), addonOut, executable.file, ...(other.file ? [other.file] : [])]) {
    console.log(`  ${kib(file)}  ${path.relative(root, file)}`);
  }
  if (other.skipped) console.log(`  dist/berth-linux-${other.arch} not built: ${other.skipped}`);
}

/**
 * The executable for the other Linux machine (arm64 from x64, x64 from arm64): that machine's official Node
 * (node-linux-ARCH from the npm registry) and better-sqlite3's prebuilt Node-API addon for it, which its npm
 * package carries. Without them (no registry, no prebuild) it is skipped and said so: this machine's is built.
 */
async function buildOtherMachine(webFiles, version) {
  const arch = process.arch === 'arm64' ? 'x64' : 'arm64';
  try {
    const addon = path.join(root, `node_modules/better-sqlite3/prebuilds/linux-${arch}.node`);
    if (!existsSync(addon)) throw new Error(`better-sqlite3 carries no prebuilt addon for linux-${arch} (${path.relative(root, addon)})`);
    const node = nodeForArch(root, arch);
    const built = await buildExecutable({ root, addonSrc: addon, webFiles, version, arch, node, out: path.join(dist, `berth-linux-${arch}`) });
    return { arch, file: built.file };
  } catch (err) {
    return { arch, skipped: err.message };
  }
}

main().catch((err) => {
  // esbuild has already printed its own diagnostics; add one line that says what failed.
  console.error(`build: failed: ${err.message.split('\n')[0]}`);
  process.exit(1);
});
