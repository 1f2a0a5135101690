// The one entry point of the server program (dist/berth-server.mjs). Git's pre-receive hook runs this
// same file with `git-hook`; `issue-admin-token` prints a new admin token (src/server/bootstrap.ts).
// The subcommands are in src/server/commands.ts.
import { runServerCommand } from './commands.ts';

await runServerCommand(process.argv.slice(2));
