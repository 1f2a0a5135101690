// esbuild plugins shared by the bundles (scripts/build.mjs) and the single executable (build-executable.mjs).
import { readFile } from 'node:fs/promises';

/**
 * Requires that dockerode's modules make when they load, moved into the call that needs them, so what they
 * pull in loads the first time it is used (idle RSS, docs/benchmarks.md):
 * - docker-modem's SSH agent: ssh2 instantiates its poly1305 WebAssembly with a 16 MB memory; only a remote
 *   engine reached over SSH needs it.
 * - dockerode's BuildKit session: gRPC and protobufjs; only `buildImage` with version "2" needs it.
 */
const DEFERRED = [
  { file: /[\\/]docker-modem[\\/]lib[\\/]modem\.js$/, line: "ssh = require('./ssh'),", lazy: "ssh = (...args) => require('./ssh')(...args)," },
  { file: /[\\/]dockerode[\\/]lib[\\/]docker\.js$/, line: "withSession = require('./session'),", lazy: "withSession = (...args) => require('./session')(...args)," },
];

/** @type {import('esbuild').Plugin} */
export const deferDockerRequires = {
  name: 'defer-docker-requires',
  setup(build) {
    for (const { file, line, lazy } of DEFERRED) {
      build.onLoad({ filter: file }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        // A dependency that no longer has this line must be looked at again, not bundled eagerly unnoticed.
        if (!source.includes(line)) throw new Error(`${args.path}: "${line}" not found (the dependency changed?)`);
        return { contents: source.replace(line, lazy), loader: 'js' };
      });
    }
  },
};
