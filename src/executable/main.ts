// The program of dist/berth, the single executable (Node, the server, the CLI, the git hook and the
// web console in one file; scripts/build.mjs makes it), which its main script, src/executable/launcher.ts,
// runs for every command but the git hook. Its first word picks the program:
//   berth server [issue-admin-token|registry-auth ...]   the server and its subcommands
//   berth git-hook                                      git's pre-receive hook (the server writes it; launcher.ts)
//   berth version                                       version and the commit it was built from
//   berth up                                            brings Berth up on this machine (src/appliance/up.ts)
//   berth upgrade ./berth-new                           replaces this executable and restarts the server on it
//   berth supervise COMMAND...                          restarts COMMAND whenever it exits (Caddy, without systemd)
//   berth <anything else>                               the CLI: berth apps, berth login, ...
// Bundled as CommonJS (Node 24 runs an executable's main script only as CommonJS): no top-level await here.
import { VERSION } from '../version.ts';

/** Baked in by scripts/build.mjs. */
declare const BERTH_COMMIT: string;

async function dispatch(argv: string[]): Promise<void> {
  const [word, ...rest] = argv;
  if (word === 'server') {
    const { runServerCommand } = await import('../server/commands.ts');
    await runServerCommand(rest);
  } else if (word === 'up' && rest.length === 0) {
    const { runUp } = await import('../appliance/up.ts');
    process.exitCode = await runUp(process.execPath);
  } else if (word === 'upgrade') {
    const { runUpgrade } = await import('../appliance/upgrade.ts');
    process.exitCode = await runUpgrade(rest);
  } else if (word === 'supervise') {
    const { supervise } = await import('../appliance/supervise.ts');
    process.exitCode = await supervise(rest);
  } else if (word === 'version' && rest.length === 0) {
    process.stdout.write(`berth ${VERSION} (commit ${BERTH_COMMIT}) node-${process.version}\n`);
  } else {
    const { runCli } = await import('../cli/run.ts');
    process.exitCode = await runCli(argv);
  }
}

dispatch(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`berth: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
