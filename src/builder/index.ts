// DockerBuilder: source tar in, tagged image out. Detects the kind of app, writes a Dockerfile for
// it unless it brought its own, and builds with the local Docker engine.
import Docker from 'dockerode';
import { readFile } from 'node:fs/promises';
import type { Builder, BuildKind, BuildRequest, BuildResult, Stacks } from './types.ts';
import { detect, normaliseRepoPath, type Detection } from './detect.ts';
import { engineBuild } from './docker-build.ts';
import {
  EXTRA_CA_FILE, STATIC_SERVER_PATH, nodeDockerfile, procfileDockerfile, shellCommand, staticDockerfile,
  type DockerfileOptions,
} from './dockerfiles.ts';
import { BuildError } from './errors.ts';
import { baseImageError, namesNoImage } from './base-image-error.ts';
import { imagesUsed } from './dockerfile-images.ts';
import { APP_LABEL, buildBaseVerdict, labelVerdict } from '../security/image-policy.ts';
import { planGoApp } from './go-app.ts';
import { goDockerfile, pythonDockerfile } from './language-dockerfiles.ts';
import { planNodeApp } from './node-app.ts';
import { planPythonApp } from './python-app.ts';
import { GENERATED_DIR, spoolSource, type SourceTree } from './source.ts';
import { STATIC_SERVER_FILE, STATIC_SERVER_SOURCE } from './static-server.ts';
import { versionVerdict, type AskedVersion } from './language-versions.ts';
import { StackVersions, type StackLanguage } from './stack-version.ts';

export { BuildError } from './errors.ts';
export type { Builder, BuildKind, BuildRequest, BuildResult, Stacks } from './types.ts';

export interface DockerBuilderOptions {
  socketPath: string;
  stacks: Stacks;
  /** PEM bundle to trust during builds and at runtime of generated images (a TLS-intercepting proxy's CA). */
  extraCaFile: string | null;
  buildTimeoutMs?: number;
  /** Names the engine reaches Berth's registry by besides the build tag's own (BERTH_REGISTRY_ADVERTISE). */
  registries?: string[];
}

const DEFAULT_BUILD_TIMEOUT_MS = 15 * 60_000;
const BUILD_ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What to hand the engine, apart from the source itself. */
interface BuildPlan {
  dockerfile: string;                 // path inside the context
  generated: Record<string, Buffer>;  // files under .berth/ in the context
  processes: Record<string, string>;
}

export class DockerBuilder implements Builder {
  readonly #docker: Docker;
  readonly #stacks: Stacks;
  readonly #extraCaFile: string | null;
  readonly #timeoutMs: number;
  readonly #registries: string[];
  readonly #versions: StackVersions;

  constructor(options: DockerBuilderOptions) {
    this.#docker = new Docker({ socketPath: options.socketPath });
    this.#stacks = options.stacks;
    this.#extraCaFile = options.extraCaFile;
    this.#timeoutMs = options.buildTimeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
    this.#registries = options.registries ?? [];
    this.#versions = new StackVersions(this.#docker);
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    const tree = await spooledOnceReady(spoolSource(req.source, req.signal), req.ready);
    try {
      const detection = await detect(tree, req.dockerfilePath);
      req.progress(`Detected ${describe(detection.kind, tree)}`);
      req.detected?.(detection.kind);
      const plan = await this.#plan(tree, detection, req);
      const imageId = await engineBuild(this.#docker, {
        // Like `docker build`, leave out what .dockerignore names (the Dockerfile itself always goes).
        context: tree.context(plan.generated, [plan.dockerfile, '.dockerignore']),
        tag: req.tag,
        dockerfile: plan.dockerfile,
        buildArgs: req.buildArgs,
        // A generated Dockerfile carries the labels itself, in a step the cache keeps (dockerfiles.ts metadata()).
        labels: detection.kind === 'dockerfile' ? appLabels(req.app) : {},
        progress: req.progress,
        signal: req.signal,
        timeoutMs: this.#timeoutMs,
      }).catch(async (err: unknown) => {
        if (!(err instanceof BuildError)) throw err;
        const dockerfile = plan.generated.Dockerfile?.toString('utf8') ?? await tree.readText(plan.dockerfile) ?? '';
        throw await baseImageError(err, {
          kind: detection.kind, dockerfile, buildArgs: req.buildArgs, stacks: this.#stacks,
          isLocal: (ref) => this.#hasImage(ref),
        }) ?? err;
      });
      const tagged = await this.#docker.getImage(req.tag).inspect();
      if (tagged.Id !== imageId) throw new Error(`${req.tag} is ${tagged.Id}, not the image just built (${imageId}): was it tagged again meanwhile?`);
      return { kind: detection.kind, imageId, processes: plan.processes, releaseCommand: detection.procfile?.releaseCommand ?? null };
    } finally {
      await tree.dispose();
    }
  }

  async #plan(tree: SourceTree, detection: Detection, req: BuildRequest): Promise<BuildPlan> {
    const procfileProcesses = detection.procfile?.processes ?? {};
    const web = procfileProcesses.web;
    switch (detection.kind) {
      case 'dockerfile': {
        // The user's Dockerfile is built as is: Berth never edits it, so the extra CA is not added
        // to it (an app behind an intercepting proxy declares and uses its own ARG or COPY).
        const dockerfile = normaliseRepoPath(req.dockerfilePath);
        await this.#refuseOtherAppsImages(await tree.readText(dockerfile) ?? '', dockerfile, req);
        return { dockerfile, generated: {}, processes: procfileProcesses };
      }
      case 'node': {
        const plan = await planNodeApp(tree);
        const command = webCommand(procfileProcesses, plan.startCommand,
          'cannot tell how to start this Node.js app: add a "start" script or "main" to package.json, a server.js or index.js, or a Procfile with a web: line');
        const options = this.#dockerfileOptions(this.#stacks.node, command, req);
        return this.#generated(nodeDockerfile(options, plan, buildArgNames(req.buildArgs)), {}, withDefaultWeb(procfileProcesses, plan.startCommand));
      }
      case 'python': {
        const plan = await planPythonApp(tree);
        await this.#checkVersion('Python', plan.asked, this.#stacks.python, req);
        const command = webCommand(procfileProcesses, plan.startCommand,
          'cannot tell how to start this Python app: add a Procfile with a web: line (e.g. "web: python server.py"), or an app.py or main.py to run with python');
        const options = this.#dockerfileOptions(this.#stacks.python, command, req);
        return this.#generated(pythonDockerfile(options, plan, buildArgNames(req.buildArgs)), {}, withDefaultWeb(procfileProcesses, plan.startCommand));
      }
      case 'go': {
        const plan = await planGoApp(tree, web);
        req.progress(plan.createsModule
          ? `No go.mod: built as module ${plan.module}, made by go mod init for this build (the standard library needs nothing else; add a go.mod to pin dependencies)`
          : `Go module ${plan.module}: ${plan.vendored ? 'vendored modules (-mod=vendor)' : 'modules downloaded by go mod download'}`);
        await this.#checkVersion('Go', plan.asked, this.#stacks.go, req);
        const command = webCommand(procfileProcesses, plan.startCommand,
          'cannot tell which of this Go app\'s commands serves the web: add a Procfile with a web: line naming one of the binaries under cmd/ (they are on the PATH)');
        const options = this.#dockerfileOptions(this.#stacks.go, command, req);
        const dockerfile = goDockerfile(options, this.#stacks.generic, plan, buildArgNames(req.buildArgs));
        return this.#generated(dockerfile, {}, withDefaultWeb(procfileProcesses, plan.startCommand));
      }
      case 'static': {
        const serve = ['node', STATIC_SERVER_PATH];
        const options = this.#dockerfileOptions(this.#stacks.static, web !== undefined ? shellCommand(web) : serve, req);
        const files = { [STATIC_SERVER_FILE]: Buffer.from(STATIC_SERVER_SOURCE) };
        return this.#generated(staticDockerfile(options), files, withDefaultWeb(procfileProcesses, serve));
      }
      case 'procfile': {
        const options = this.#dockerfileOptions(this.#stacks.generic, web !== undefined ? shellCommand(web) : null, req);
        return this.#generated(procfileDockerfile(options), {}, procfileProcesses);
      }
    }
  }

  /**
   * Another app's image (by its registry name, a local tag Berth built it under, or an id) holds that team's
   * code and build args: a build may not start from or copy out of it. Generated Dockerfiles use the stacks only.
   */
  async #refuseOtherAppsImages(text: string, path: string, req: BuildRequest): Promise<void> {
    const settings = { registries: [req.tag.slice(0, req.tag.indexOf('/')), ...this.#registries], allow: [] };
    for (const use of imagesUsed(text, req.buildArgs)) {
      if (use.ref === '' && use.instruction === 'FROM') throw new BuildError(`${path} line ${use.line}: ${namesNoImage(text.split('\n')[use.line - 1].trim())}`);
      let verdict = buildBaseVerdict(use.ref, req.app, settings);
      if (verdict.ok) verdict = labelVerdict(use.ref, await this.#localLabels(use.ref), req.app);
      if (!verdict.ok) throw new BuildError(`${path} line ${use.line} (${use.instruction} ${use.ref}): ${verdict.reason}; builds may use public and stack images and their own stages only`);
    }
  }

  /** Says which version the stack has (and the app asks for); a stack older than the app asks for stops the build here. */
  async #checkVersion(language: StackLanguage, asked: AskedVersion | null, image: string, req: BuildRequest): Promise<void> {
    const verdict = versionVerdict(language, asked, await this.#versions.of(language, image), image);
    if (verdict.error !== null) throw new BuildError(verdict.error);
    if (verdict.line) req.progress(verdict.line);
  }

  /** Whether the engine has the image (any failure to say so counts as no: this only shapes an error message). */
  async #hasImage(ref: string): Promise<boolean> {
    try {
      await this.#docker.getImage(ref).inspect();
      return true;
    } catch {
      return false;
    }
  }

  /** Labels of a local image; null when the engine does not have it (it will be pulled from its registry). */
  async #localLabels(ref: string): Promise<Record<string, string> | null> {
    try {
      return (await this.#docker.getImage(ref).inspect()).Config?.Labels ?? null;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }

  #dockerfileOptions(baseImage: string, command: string[] | null, req: BuildRequest): DockerfileOptions {
    return { baseImage, extraCa: this.#extraCaFile !== null, command, labels: appLabels(req.app) };
  }

  async #generated(dockerfile: string, files: Record<string, Buffer>, processes: Record<string, string>): Promise<BuildPlan> {
    const generated: Record<string, Buffer> = { Dockerfile: Buffer.from(dockerfile), ...files };
    if (this.#extraCaFile !== null) generated[EXTRA_CA_FILE] = await readFile(this.#extraCaFile);
    return { dockerfile: `${GENERATED_DIR}/Dockerfile`, generated, processes };
  }
}

/**
 * A detected app's image command: the Procfile's web line, else what detection found. With neither, and no
 * Procfile process at all, nothing could ever run: that is the build's error, with `cannotStart` as its hint.
 */
function webCommand(procfile: Record<string, string>, detected: string[] | null, cannotStart: string): string[] | null {
  const command = procfile.web !== undefined ? shellCommand(procfile.web) : detected;
  if (!command && Object.keys(procfile).length === 0) throw new BuildError(cannotStart);
  return command;
}

/**
 * The spooled source, once the caller's check has passed. If it fails, its error is the build's (as if it had come
 * first) and the source is removed as soon as it is spooled.
 */
async function spooledOnceReady(spooling: Promise<SourceTree>, ready: Promise<unknown> | undefined): Promise<SourceTree> {
  spooling.catch(() => {}); // awaited below unless the check fails first
  try {
    await ready;
  } catch (err) {
    void spooling.then((tree) => tree.dispose(), () => {});
    throw err;
  }
  return spooling;
}

/** Which app an image is (image-policy.ts refuses another app's image as a base). */
function appLabels(app: string): Record<string, string> {
  return { [APP_LABEL]: app };
}

/** Generated images have a web command even without a Procfile; the deployer sees it as `web`. */
function withDefaultWeb(processes: Record<string, string>, command: string[] | null): Record<string, string> {
  if (processes.web !== undefined || command === null) return processes;
  return { web: command.join(' '), ...processes };
}

/** Generated Dockerfiles declare the build args (ARG) so `npm run build` sees them. */
function buildArgNames(buildArgs: Record<string, string>): string[] {
  const names = Object.keys(buildArgs);
  const invalid = names.filter((name) => !BUILD_ARG_NAME.test(name));
  if (invalid.length > 0) throw new BuildError(`invalid build arg name(s): ${invalid.join(', ')}`);
  return names;
}

function describe(kind: BuildKind, tree: SourceTree): string {
  if (kind === 'go' && !tree.has('go.mod')) return 'a Go app (.go files at the root, no go.mod)';
  return {
    dockerfile: 'a Dockerfile: building it as is',
    node: 'a Node.js app (package.json)',
    python: 'a Python app (requirements.txt or pyproject.toml)',
    go: 'a Go app (go.mod)',
    static: 'a static site (index.html)',
    procfile: 'a Procfile app: generic stack',
  }[kind];
}
