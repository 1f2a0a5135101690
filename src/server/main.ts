// The one entry point of the server binary. Git's pre-receive hook runs this same file with
// `git-hook`, so that path loads only the small hook module and starts in milliseconds;
// `issue-admin-token` prints a new admin token (src/server/bootstrap.ts).
if (process.argv[2] === 'git-hook') {
  const { runPreReceiveHook } = await import('../git/hook.ts');
  await runPreReceiveHook();
} else if (process.argv[2] === 'build-worker') {
  // A worker thread of the server preparing a build's source (src/builder/planning-worker.ts).
  await import('../builder/planning-worker.ts');
} else if (process.argv[2] === 'registry-auth') {
  // up.sh, before starting the registry beyond loopback: Berth's credential and the registry's htpasswd.
  const { runRegistryAuth } = await import('../registry/credentials.ts');
  runRegistryAuth(process.argv.slice(3));
} else if (process.argv[2] === 'issue-admin-token') {
  const { runIssueAdminToken } = await import('./bootstrap.ts');
  await runIssueAdminToken(process.argv.slice(3));
} else {
  const { startServer } = await import('./start.ts');
  await startServer();
}
