// Types for test/upgrade.test.ts, which builds the web console's assets once for its executables (build-web.mjs).
export function buildWebAssets(): Promise<{ files: Record<string, unknown> }>;
