// The one entry point of the server binary. Git's pre-receive hook runs this same file with
// `git-hook`, so that path loads only the small hook module and starts in milliseconds.
if (process.argv[2] === 'git-hook') {
  const { runPreReceiveHook } = await import('../git/hook.ts');
  await runPreReceiveHook();
} else {
  const { startServer } = await import('./start.ts');
  await startServer();
}
