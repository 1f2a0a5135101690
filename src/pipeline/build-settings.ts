// Build-time settings that come from config vars, the way Heroku and Dokku users set them.
import type { BuildKind } from '../builder/types.ts';

/**
 * BERTH_BUILD_ARGS names the config vars passed to the build (`--build-arg`), comma separated:
 * config vars are runtime secrets by default and only reach the image when marked build-time.
 */
export function parseBuildArgs(config: Record<string, string>): Record<string, string> {
  const names = (config.BERTH_BUILD_ARGS ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  return Object.fromEntries(names.filter((n) => n in config).map((n) => [n, config[n]]));
}

export function describeKind(kind: BuildKind): string {
  return { dockerfile: 'Dockerfile app', node: 'Node.js app', python: 'Python app', go: 'Go app', static: 'Static site', procfile: 'Procfile app' }[kind];
}
