// Makes dist/berth, the single executable (Node's single executable application): the Node running
// this build, with a CommonJS bundle of src/executable/main.ts as its main script and the SQLite addon
// as an asset. Called by scripts/build.mjs after the web assets are built.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { deferDockerRequires } from './build-plugins.mjs';

// The fuse Node looks for to know a blob was injected (Node's documentation gives this exact string).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Bundling options shared by the executable's main script and its worker: CommonJS for Node 24's SEA. */
const cjs = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minifyWhitespace: true, minifySyntax: true, // identifiers kept: stack traces stay readable
  legalComments: 'none',
  logLevel: 'error',
  external: ['*.node', 'cpu-features'],
  // Only the sources' fallbacks read import.meta.url (loading web assets from scripts/, starting the
  // worker from a file); the executable takes the embedded paths, so it never reaches them.
  define: { 'import.meta.url': 'undefined' },
  plugins: [deferDockerRequires], // ssh2 (16 MB of WebAssembly memory) and gRPC load only when used
};

const postjectCli = createRequire(import.meta.url).resolve('postject/dist/cli.js');

/** Runs a build step quietly (Node and postject's LIEF chat on stderr); its output is shown only if it fails. */
function quietly(args) {
  try {
    execFileSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    throw new Error(`${path.basename(args[0])} failed: ${err.stdout ?? ''}${err.stderr ?? err.message}`);
  }
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

function commitOf(root) {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown'; // built from a source archive, not a clone
  }
}

/** The node binary without its debug symbols (about 18 MB less); unchanged when binutils' strip is missing. */
function strippedCopy(node, out) {
  copyFileSync(node, out);
  try {
    execFileSync('strip', ['--strip-all', out], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * @param {{ root: string, addonSrc: string, webFiles: Record<string, unknown> }} input
 * @returns {Promise<{ file: string, stripped: boolean }>}
 */
export async function buildExecutable({ root, addonSrc, webFiles }) {
  if (process.platform !== 'linux') throw new Error(`dist/berth is built on Linux only (this is ${process.platform})`);
  const work = path.join(root, 'dist', '.executable');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const worker = await build({ ...cjs, absWorkingDir: root, entryPoints: ['src/builder/planning-worker.ts'], write: false });
  const addon = readFileSync(addonSrc);
  const main = path.join(work, 'berth.cjs');
  await build({
    ...cjs,
    absWorkingDir: root,
    entryPoints: ['src/executable/main.ts'],
    outfile: main,
    define: {
      ...cjs.define,
      BERTH_WEB_ASSETS: JSON.stringify(webFiles),
      BERTH_PLANNING_WORKER: JSON.stringify(worker.outputFiles[0].text),
      BERTH_SQLITE_SHA256: JSON.stringify(sha256(addon)),
      BERTH_COMMIT: JSON.stringify(commitOf(root)),
    },
  });

  const blob = path.join(work, 'sea-prep.blob');
  const seaConfig = path.join(work, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true, // V8's compiled code travels with the script: a faster start, the same behaviour
    // As the bundle's systemd unit runs it (scripts/up-services.sh): young generation kept small, for idle RSS.
    execArgv: ['--max-semi-space-size=1'],
    assets: { 'better_sqlite3.node': addonSrc }, // name read by src/executable/sqlite-addon.ts
  }));
  quietly(['--experimental-sea-config', seaConfig]);

  const out = path.join(root, 'dist', 'berth');
  const temp = path.join(work, 'berth');
  const stripped = strippedCopy(process.execPath, temp);
  quietly([postjectCli, temp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  chmodSync(temp, 0o755);
  // Renamed into place: a running server keeps its old file, as with the bundles.
  renameSync(temp, out);
  rmSync(work, { recursive: true, force: true });
  return { file: out, stripped };
}
