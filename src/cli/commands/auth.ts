// login, logout
import { ApiClient, ApiError } from '../client.ts';
import { CliError, stringFlag, type Command, type CommandContext } from '../command.ts';
import { DEFAULT_API_URL, loadCredentials, removeCredentials, saveCredentials } from '../credentials.ts';
import { promptHidden, readAllStdin } from '../prompt.ts';
import { installCredentialHelper } from './git.ts';

async function readToken(ctx: CommandContext): Promise<string> {
  const token = stringFlag(ctx, 'token') ?? (process.stdin.isTTY ? await promptHidden('Berth API token: ') : await readAllStdin());
  if (!token) throw new CliError('no token given: use --token T, pipe it in, or type it at the prompt');
  return token;
}

/** Only a token the server accepts is stored, so a typo shows up now rather than on the next command. */
async function verifyToken(api: string, token: string): Promise<void> {
  try {
    await new ApiClient(api, token).get('/apps');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw new CliError(`${api} rejected the token: ${error.message}`);
    throw error;
  }
}

async function login(ctx: CommandContext): Promise<void> {
  const given = stringFlag(ctx, 'api') || ctx.env.BERTH_API_URL || loadStoredApi(ctx) || DEFAULT_API_URL;
  const api = given.trim().replace(/\/+$/, '');
  const token = await readToken(ctx);
  await verifyToken(api, token);
  const file = saveCredentials(ctx.env, { api, token });
  ctx.io.out(`Logged in to ${api} (token saved in ${file})`);
  if (ctx.flags['no-git'] !== true) {
    try {
      ctx.io.out(`git pushes to ${api} will use this token (${installCredentialHelper(api)})`);
    } catch (error) {
      ctx.io.err(`berth: could not install the git credential helper: ${(error as Error).message}`);
    }
  }
}

/** A damaged credentials file must not stop the login that replaces it. */
function loadStoredApi(ctx: CommandContext): string | undefined {
  try {
    return loadCredentials(ctx.env)?.api;
  } catch {
    return undefined;
  }
}

async function logout(ctx: CommandContext): Promise<void> {
  ctx.io.out(removeCredentials(ctx.env) ? 'Logged out.' : 'Not logged in.');
}

export const authCommands: Command[] = [
  {
    name: 'login',
    usage: '[--api URL] [--token T] [--no-git]',
    summary: 'store the API URL and token (token also read from stdin or a prompt)',
    options: { api: { type: 'string' }, token: { type: 'string' }, 'no-git': { type: 'boolean' } },
    run: login,
  },
  { name: 'logout', usage: '', summary: 'forget the stored token', run: logout },
];
