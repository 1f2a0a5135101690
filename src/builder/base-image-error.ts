// A build that failed at a FROM line: the engine's words ("lookup registry-1.docker.io: no such host", with the
// step shown as `FROM ${BASE}`) don't name the image or say where it should come from. This says both.
import type { BuildKind, Stacks } from './types.ts';
import { BuildError } from './errors.ts';
import { imagesUsed } from './dockerfile-images.ts';

const STACK_SETTINGS: Record<keyof Stacks, string> = {
  node: 'BERTH_STACK_NODE', python: 'BERTH_STACK_PYTHON', go: 'BERTH_STACK_GO', static: 'BERTH_STACK_STATIC', generic: 'BERTH_STACK_GENERIC',
};

const MIRROR_HINT = 'without internet access the engine pulls only through its registry mirror ("registry-mirrors" in /etc/docker/daemon.json)';

export interface BaseImageContext {
  kind: BuildKind;
  /** The Dockerfile that was built (the app's own or the generated one). */
  dockerfile: string;
  buildArgs: Record<string, string>;
  stacks: Stacks;
  /** Whether the engine has the image locally. */
  isLocal: (ref: string) => Promise<boolean>;
}

/** The failure again, naming the base image(s) the engine lacks and what to change; null when that is not it. */
export async function baseImageError(failure: BuildError, ctx: BaseImageContext): Promise<BuildError | null> {
  if (!/^FROM\s/i.test(failure.instruction ?? '')) return null;
  const refs = [...new Set(imagesUsed(ctx.dockerfile, ctx.buildArgs).filter((u) => u.instruction === 'FROM').map((u) => u.ref))];
  if (refs.includes('')) return new BuildError(`${failure.message}\n${namesNoImage(failure.instruction!)}`, failure.instruction);
  const missing: string[] = [];
  for (const ref of refs) if (!(await ctx.isLocal(ref))) missing.push(ref);
  if (missing.length === 0) return null;
  return new BuildError(`${failure.message}\n${missing.map((ref) => `The base image ${ref} is not on this host and could not be pulled: ${hintFor(ref, ctx)}`).join('\n')}`,
    failure.instruction);
}

/** A FROM whose variables are all unset ("FROM ${BASE}" without a default or build arg). */
export function namesNoImage(instruction: string): string {
  return `"${instruction}" names no image: its variable is unset; give the ARG a default or pass it as a build arg ` +
    '(config var BERTH_BUILD_ARGS names the config vars passed)';
}

function hintFor(ref: string, ctx: BaseImageContext): string {
  const settings = (Object.keys(ctx.stacks) as (keyof Stacks)[]).filter((k) => ctx.stacks[k] === ref).map((k) => STACK_SETTINGS[k]);
  if (ctx.kind !== 'dockerfile' && settings.length) {
    return `it is a build stack image; build the defaults with scripts/base-images.sh or point ${settings.join(' / ')} at an image ` +
      `the engine has or can pull; ${MIRROR_HINT}.`;
  }
  return `check the Dockerfile's FROM line and its build args (BERTH_BUILD_ARGS); ${MIRROR_HINT}.`;
}
