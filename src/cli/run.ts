// berth: Heroku's verbs for a Berth server. Parses the command line, runs one command, and turns
// errors into one stderr line and an exit code (1: failed, 2: wrong usage).
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ApiClient, ApiError } from './client.ts';
import { CliError, CommandExit, UsageError, type Command, type CommandContext, type Flags, type Io } from './command.ts';
import { appCommands } from './commands/apps.ts';
import { renameCommands } from './commands/apps-rename.ts';
import { connectCommands } from './commands/connect.ts';
import { reviewCommands } from './commands/reviews.ts';
import { authCommands } from './commands/auth.ts';
import { configCommands } from './commands/config.ts';
import { domainCommands } from './commands/domains.ts';
import { addonCommands } from './commands/addons.ts';
import { backupCommands } from './commands/backups.ts';
import { httpsCommands } from './commands/https.ts';
import { certCommands } from './commands/certs.ts';
import { gitCommands } from './commands/git.ts';
import { logsCommands } from './commands/logs.ts';
import { psCommands } from './commands/ps.ts';
import { canaryCommands } from './commands/canary.ts';
import { releaseCommands } from './commands/releases.ts';
import { teamCommands } from './commands/team.ts';
import { tokenCommands } from './commands/tokens.ts';
import { auditCommands } from './commands/audit.ts';
import { metricsCommands } from './commands/metrics.ts';
import { alertCommands } from './commands/alerts.ts';
import { hostCommands } from './commands/hosts.ts';
import { adminCommands } from './commands/admin.ts';
import { resolveCredentials } from './credentials.ts';
import { commandHelpLines, commandListLines, wrapWords, HELP_WIDTH } from './help.ts';
import { NetworkError } from './http.ts';
import { VERSION } from '../version.ts';

const GLOBAL_OPTIONS: ParseArgsOptionsConfig = {
  app: { type: 'string', short: 'a' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const helpCommand: Command = {
  name: 'help',
  usage: '[COMMAND]',
  summary: 'show all commands, or one command\'s usage',
  args: [0, 1],
  run: async (ctx) => printHelp(ctx.io, ctx.args[0]),
};

const versionCommand: Command = {
  name: 'version',
  usage: '',
  summary: 'print the CLI version',
  run: async (ctx) => ctx.io.out(`berth ${VERSION} node-${process.version}`),
};

const COMMANDS: Command[] = [
  ...authCommands,
  ...appCommands,
  ...renameCommands,
  ...connectCommands,
  ...reviewCommands,
  ...releaseCommands,
  ...canaryCommands,
  ...configCommands,
  ...psCommands,
  ...logsCommands,
  ...domainCommands,
  ...addonCommands,
  ...backupCommands,
  ...httpsCommands,
  ...certCommands,
  ...gitCommands,
  ...teamCommands,
  ...tokenCommands,
  ...auditCommands,
  ...metricsCommands,
  ...alertCommands,
  ...hostCommands,
  ...adminCommands,
  helpCommand,
  versionCommand,
];

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}

function usageLine(command: Command): string {
  return `Usage: berth ${command.name} ${command.usage}`.trimEnd();
}

function printHelp(io: Io, name?: string): void {
  const command = name === undefined ? undefined : findCommand(name);
  if (name !== undefined && !command) throw new UsageError(`unknown command "${name}"`);
  if (command) return commandHelpLines(command).forEach((line) => io.out(line));
  io.out('Usage: berth COMMAND [APP] [ARGS...] [--json]\n\nCommands:');
  commandListLines(COMMANDS).forEach((line) => io.out(line));
  io.out('');
  const notes = 'APP may also be given as -a/--app APP. --json prints the API\'s answer as JSON. ' +
    'BERTH_API_URL and BERTH_TOKEN override the stored login; BERTH_CONFIG_DIR moves where it is kept.';
  wrapWords(notes, HELP_WIDTH, '', '').forEach((line) => io.out(line));
  io.out('');
  // Not CLI commands: the executable (dist/berth, /usr/local/bin/berth) answers them before the CLI runs.
  const appliance = 'On the server, the same executable also runs: berth up (installs and starts Berth on this machine), ' +
    'berth upgrade FILE (replaces it with FILE, rolling back if the new server fails its health check), ' +
    'berth server (the server itself) and berth supervise COMMAND (keeps a command running without systemd).';
  wrapWords(appliance, HELP_WIDTH, '', '').forEach((line) => io.out(line));
}

/** parseArgs reports problems as TypeErrors with ERR_PARSE_ARGS_* codes; those are usage errors. */
function parseCommandLine(command: Command, argv: string[]): { flags: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    return { flags: values as Flags, positionals };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw error;
    const firstSentence = (error as Error).message.split('. ')[0];
    throw new UsageError(firstSentence.charAt(0).toLowerCase() + firstSentence.slice(1));
  }
}

/** The app is `-a NAME` when given, otherwise the first positional, as with Heroku. */
function takeApp(command: Command, flags: Flags, positionals: string[]): string {
  if (!command.app) return '';
  const app = typeof flags.app === 'string' ? flags.app : positionals.shift();
  if (!app) throw new UsageError('missing app name');
  return app;
}

function checkArgCount(command: Command, args: string[]): void {
  const [min, max] = command.args ?? [0, 0];
  if (args.length > max) throw new UsageError(`unexpected argument "${args[max]}"`);
  if (args.length < min) throw new UsageError(`missing ${argumentName(command, args.length)}`);
}

/** The name the usage line gives the argument at `index`: "APP KEY=VALUE..." → "KEY=VALUE". */
function argumentName(command: Command, index: number): string {
  const names = command.usage.split(' ').filter((word) => /^[A-Z]/.test(word));
  const name = names[index + (command.app ? 1 : 0)];
  return name ? name.replace(/\.\.\.$/, '') : 'argument';
}

function buildContext(command: Command, argv: string[], env: NodeJS.ProcessEnv, io: Io): CommandContext | null {
  const { flags, positionals } = parseCommandLine(command, argv);
  if (flags.help) {
    printHelp(io, command.name);
    return null;
  }
  const app = takeApp(command, flags, positionals);
  checkArgCount(command, positionals);
  let client: ApiClient | undefined;
  const api = () => (client ??= createClient(env));
  return { app, args: positionals, flags, json: flags.json === true, io, api, env };
}

function createClient(env: NodeJS.ProcessEnv): ApiClient {
  const { api, token } = resolveCredentials(env);
  return new ApiClient(api, token);
}

/** One line per error: the API's own message when there is one. */
function reportError(error: unknown, command: Command | undefined, io: Io, env: NodeJS.ProcessEnv): number {
  if (error instanceof CommandExit) return error.code;
  if (error instanceof UsageError) {
    io.err(`berth: ${error.message}`);
    io.err(command ? usageLine(command) : 'Run "berth help" for the list of commands.');
    return 2;
  }
  if (error instanceof ApiError) {
    const hint = error.status === 401 && !error.message.includes('berth login') ? ' (run "berth login")' : '';
    io.err(`berth: ${error.message}${hint}`);
    return 1;
  }
  if (error instanceof CliError || error instanceof NetworkError) {
    io.err(`berth: ${error.message}`);
    return 1;
  }
  io.err(`berth: ${error instanceof Error ? error.message : String(error)}`);
  if (env.BERTH_DEBUG && error instanceof Error) io.err(error.stack ?? '');
  return 1;
}

async function main(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') return (printHelp(io), 0);
  if (name === '--version' || name === '-v') return main(['version'], env, io);
  const command = findCommand(name);
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`);
    const ctx = buildContext(command, rest, env, io);
    if (ctx) await command.run(ctx);
    return 0;
  } catch (error) {
    return reportError(error, command, io, env);
  }
}

const processIo: Io = {
  out: (line) => process.stdout.write(line + '\n'),
  write: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(line + '\n'),
};

/** Runs one CLI command line (without the program's name) against this process's stdio; resolves with the exit code. */
export function runCli(argv: string[]): Promise<number> {
  // `berth logs app | head` closes stdout early; that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  return main(argv, process.env, processIo);
}
