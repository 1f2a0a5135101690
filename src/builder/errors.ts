// A build that failed because of the pushed source (detection, Procfile, package.json, the Docker
// build itself): the message is written for the pusher, who sees it as `remote:` lines.
export class BuildError extends Error {
  override name = 'BuildError';
  /** The Dockerfile instruction the engine failed at (e.g. "FROM ${BASE}"), when the build got that far. */
  readonly instruction: string | null;

  constructor(message: string, instruction: string | null = null) {
    super(message);
    this.instruction = instruction;
  }
}
