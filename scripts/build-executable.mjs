// Makes dist/berth, the single executable (Node's single executable application): the Node running
// this build, with a small CommonJS bundle of src/executable/launcher.ts as its main script (git's hook runs
// from it alone), and as assets the program (src/executable/main.ts bundled), V8's code cache for it and the
// SQLite addon. Called by scripts/build.mjs after the web assets are built.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
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

/**
 * src/builder/planning-worker.ts bundled alone, as source text for the servers to start their build-planning
 * worker from (`new Worker(text, { eval: true })`): dist/berth has no file to start it from, and a worker started
 * from dist/berth-server.mjs would load the whole server (7 MB of source) for every build.
 */
export async function bundlePlanningWorker(root) {
  const worker = await build({ ...cjs, absWorkingDir: root, entryPoints: ['src/builder/planning-worker.ts'], write: false });
  return worker.outputFiles[0].text;
}

/** As the bundle's systemd unit runs it (scripts/up-services.sh): young generation kept small, for idle RSS. */
const EXEC_ARGV = ['--max-semi-space-size=1'];

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

/** binutils' strip for the target's machine: the host's own, or a cross one (binutils-aarch64-linux-gnu). */
const STRIP = { x64: 'x86_64-linux-gnu-strip', arm64: 'aarch64-linux-gnu-strip' };

/** The node binary without its debug symbols (about 18 MB less); unchanged when no strip for its machine is installed. */
function strippedCopy(node, out, arch) {
  copyFileSync(node, out);
  for (const strip of arch === process.arch ? ['strip', STRIP[arch]] : [STRIP[arch]]) {
    try {
      execFileSync(strip, ['--strip-all', out], { stdio: 'ignore' });
      return true;
    } catch { /* not installed, or not for this machine */ }
  }
  return false;
}

/**
 * The official Node build for another Linux machine, at exactly this Node's version (the blob is made by this
 * Node): the node-linux-ARCH package from the npm registry (npm pack, no other download), kept under
 * node_modules/.cache so later builds need no registry at all.
 */
export function nodeForArch(root, arch) {
  const version = process.version.slice(1);
  const cached = path.join(root, 'node_modules', '.cache', 'berth-node', `node-linux-${arch}-${version}`);
  if (existsSync(path.join(cached, 'node'))) return path.join(cached, 'node');
  const temp = `${cached}.tmp`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  try {
    const npm = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
      ? [process.execPath, process.env.npm_execpath] : ['npm'];
    execFileSync(npm[0], [...npm.slice(1), 'pack', '--silent', `node-linux-${arch}@${version}`, '--pack-destination', temp],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    execFileSync('tar', ['-xzf', path.join(temp, `node-linux-${arch}-${version}.tgz`), '-C', temp, 'package/bin/node'], { stdio: 'ignore' });
    renameSync(path.join(temp, 'package', 'bin', 'node'), path.join(temp, 'node'));
    rmSync(path.join(temp, 'package'), { recursive: true, force: true });
    rmSync(path.join(temp, `node-linux-${arch}-${version}.tgz`), { force: true });
    rmSync(cached, { recursive: true, force: true });
    renameSync(temp, cached);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    throw new Error(`node-linux-${arch}@${version} is not to be had from the npm registry: ${String(err.stderr || err.message).trim().split('\n')[0]}`);
  }
  return path.join(cached, 'node');
}

/**
 * out: where the executable goes (dist/berth); version: a release label baked in instead of src/version.ts's
 * (`berth version` and the health route report it; berth upgrade checks it); arch and node: the machine it is
 * for and the Node build for that machine (this one's, or nodeForArch's), with addonSrc built for it too.
 * @param {{ root: string, addonSrc: string, webFiles: Record<string, unknown>, out?: string, version?: string, arch?: string, node?: string }} input
 * @returns {Promise<{ file: string, stripped: boolean }>}
 */
export async function buildExecutable({ root, addonSrc, webFiles, out = path.join(root, 'dist', 'berth'), version, arch = process.arch, node = process.execPath }) {
  if (process.platform !== 'linux') throw new Error(`dist/berth is built on Linux only (this is ${process.platform})`);
  if (version !== undefined && !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) throw new Error(`version "${version}" is not semver`);
  const work = `${out}.build`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const worker = await bundlePlanningWorker(root);
  const addon = readFileSync(addonSrc);
  const launcher = path.join(work, 'launcher.cjs');
  await build({ ...cjs, absWorkingDir: root, entryPoints: ['src/executable/launcher.ts'], outfile: launcher });
  const program = path.join(work, 'berth-program.cjs');
  await build({
    ...cjs,
    absWorkingDir: root,
    entryPoints: ['src/executable/main.ts'],
    outfile: program,
    // import() becomes require(): the launcher compiles the program as a function, which has no module loader
    // for import(); the program's only ones load Node's built-in modules (the AWS SDK's).
    supported: { 'dynamic-import': false },
    define: {
      ...cjs.define,
      BERTH_WEB_ASSETS: JSON.stringify(webFiles),
      BERTH_PLANNING_WORKER: JSON.stringify(worker),
      BERTH_SQLITE_SHA256: JSON.stringify(sha256(addon)),
      BERTH_COMMIT: JSON.stringify(commitOf(root)),
      ...(version ? { BERTH_BUILD_VERSION: JSON.stringify(version) } : {}),
    },
  });

  // V8's compiled code travels with the scripts: a faster start, the same behaviour. Only for this machine's
  // own Node: the cache is machine code for the machine that made it, and for the flags it ran with.
  const codeCache = arch === process.arch;
  const programCache = path.join(work, 'berth-program.cache');
  if (codeCache) {
    quietly([...EXEC_ARGV, '--input-type=module', '-e', [
      `import { programCodeCache } from ${JSON.stringify(pathToFileURL(path.join(root, 'src/executable/program.ts')).href)};`,
      "import { readFileSync, writeFileSync } from 'node:fs';",
      "writeFileSync(process.argv[1], programCodeCache(readFileSync(process.argv[2], 'utf8')));",
    ].join('\n'), programCache, program]);
  }

  const blob = path.join(work, 'sea-prep.blob');
  const seaConfig = path.join(work, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({
    main: launcher,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: codeCache,
    execArgv: EXEC_ARGV,
    // Names read by src/executable/sqlite-addon.ts and src/executable/program.ts.
    assets: {
      'better_sqlite3.node': addonSrc,
      'berth-program.cjs': program,
      ...(codeCache ? { 'berth-program.cache': programCache } : {}),
    },
  }));
  quietly(['--experimental-sea-config', seaConfig]);

  const temp = path.join(work, 'berth');
  const stripped = strippedCopy(node, temp, arch);
  quietly([postjectCli, temp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  chmodSync(temp, 0o755);
  // Renamed into place: a running server keeps its old file, as with the bundles.
  renameSync(temp, out);
  rmSync(work, { recursive: true, force: true });
  return { file: out, stripped };
}
