// Types for test/upgrade.test.ts, which builds executables with buildExecutable (build-executable.mjs).
export function buildExecutable(input: {
  root: string;
  addonSrc: string;
  webFiles: Record<string, unknown>;
  out?: string;
  version?: string;
  arch?: string;
  node?: string;
}): Promise<{ file: string; stripped: boolean }>;
