// The builder contract: turn an app's source (a tar of the pushed commit) into a runnable image.
import type { Readable } from 'node:stream';

export type BuildKind = 'dockerfile' | 'node' | 'python' | 'go' | 'static' | 'procfile';

/** Base images per stack; configurable so air-gapped installs use locally built ones (scripts/base-images.sh). */
export interface Stacks {
  node: string;      // Node.js apps; must contain node and npm (corepack for yarn/pnpm when present)
  python: string;    // Python apps; must contain python3 with venv and pip
  go: string;        // builds Go apps (go on PATH); the binary then runs on `generic`
  static: string;    // static sites; must contain node (Berth's small static server runs on it)
  generic: string;   // Procfile apps without a language: a plain Debian
}

export interface BuildRequest {
  app: string;
  /** tar stream of the source tree at the pushed commit (git archive --format=tar). */
  source: Readable;
  /** Full target reference, e.g. 127.0.0.1:5000/hello:v7 */
  tag: string;
  /** Build-time config vars (BERTH_BUILD_ARGS lists which config keys are passed as --build-arg). */
  buildArgs: Record<string, string>;
  /** Dockerfile path relative to the repo root (config var BERTH_DOCKERFILE), default "Dockerfile". */
  dockerfilePath: string;
  signal?: AbortSignal;
  /** One line of human progress (no trailing newline); streamed to the pusher as `remote:` lines. */
  progress: (line: string) => void;
  /** Told the kind of app once detection ran, so a build that fails later still records what it was. */
  detected?: (kind: BuildKind) => void;
  /**
   * The caller's own check of the commit (app.json), made while the source is spooled: nothing is detected, said or
   * built before it passed, and its failure is the build's.
   */
  ready?: Promise<unknown>;
}

export interface BuildResult {
  kind: BuildKind;
  imageId: string;                    // sha256:...
  /** Process types from the Procfile (type → command); for Dockerfile apps without Procfile: {}. */
  processes: Record<string, string>;
  /** The Procfile's `release:` command, if any: run once before the release goes live. */
  releaseCommand: string | null;
}

export interface Builder {
  build(req: BuildRequest): Promise<BuildResult>;
}
