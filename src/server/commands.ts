// The server program's subcommands, shared by its entry file (src/server/main.ts, dist/berth-server.mjs)
// and by `berth server ...` in the single executable. Each loads only the modules it needs, so the
// git hook starts in milliseconds.
export async function runServerCommand(args: string[]): Promise<void> {
  const [name, ...rest] = args;
  if (name === 'git-hook') {
    const { runPreReceiveHook } = await import('../git/hook.ts');
    await runPreReceiveHook();
  } else if (name === 'build-worker') {
    // A worker thread of the server preparing a build's source (src/builder/planning-worker.ts).
    await import('../builder/planning-worker.ts');
  } else if (name === 'registry-auth') {
    // up.sh, before starting the registry beyond loopback: Berth's credential and the registry's htpasswd.
    const { runRegistryAuth } = await import('../registry/credentials.ts');
    runRegistryAuth(rest);
  } else if (name === 'issue-admin-token') {
    const { runIssueAdminToken } = await import('./bootstrap.ts');
    await runIssueAdminToken(rest);
  } else {
    (await import('./memory-settings.ts')).applyMemorySettings(); // may start this process again, tuned
    const { startServer } = await import('./start.ts');
    await startServer();
  }
}
