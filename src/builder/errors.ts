// A build that failed because of the pushed source (detection, Procfile, package.json, the Docker
// build itself): the message is written for the pusher, who sees it as `remote:` lines.
export class BuildError extends Error {
  override name = 'BuildError';
}
