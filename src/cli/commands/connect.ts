// apps:connect, apps:disconnect: deploy an app when its git host's push webhook arrives. The access token
// and the webhook secret are read from stdin (or a hidden prompt), never from the command line, so they
// stay out of shell history and `ps`.
import { appPath } from '../client.ts';
import { CliError, UsageError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { keyValues } from '../format.ts';
import { promptHidden, readAllStdin } from '../prompt.ts';
import type { GitConnection, GitConnectResult } from '../../wire/types.ts';

/** The secrets asked for, in order: from a prompt each on a terminal, else one line each from stdin. */
async function readSecrets(wanted: Array<'token' | 'secret'>): Promise<Record<string, string>> {
  if (wanted.length === 0) return {};
  const labels = { token: 'Access token: ', secret: 'Webhook secret: ' };
  const values: Record<string, string> = {};
  if (process.stdin.isTTY) {
    for (const name of wanted) values[name] = await promptHidden(labels[name]);
  } else {
    const lines = (await readAllStdin()).split(/\r?\n/);
    wanted.forEach((name, i) => { values[name] = (lines[i] ?? '').trim(); });
  }
  for (const name of wanted) if (!values[name]) throw new CliError(`no ${name === 'token' ? 'access token' : 'webhook secret'} on stdin (one per line: token first, then secret)`);
  return values;
}

async function connect(ctx: CommandContext): Promise<void> {
  const repo = stringFlag(ctx, 'repo');
  if (!repo) throw new UsageError('missing --repo URL');
  const wanted = [...(ctx.flags['token-from-stdin'] ? ['token' as const] : []), ...(ctx.flags['secret-from-stdin'] ? ['secret' as const] : [])];
  const { token, secret } = await readSecrets(wanted);
  const body = { repo, branch: stringFlag(ctx, 'branch'), token, tokenUser: stringFlag(ctx, 'token-user'), secret };
  const result = await withProgress(ctx, `Connecting ${ctx.app} to ${repo}`, (api) => api.post<GitConnectResult>(appPath(ctx.app, '/connection'), body));
  if (printedJson(ctx, result)) return;
  const { connection, webhookSecret } = result;
  connectionLines(connection, webhookSecret).forEach((line) => ctx.io.out(line));
  ctx.io.out('');
  ctx.io.out(`On the git host, add a webhook: payload URL ${connection.webhookUrl}, content type application/json,`);
  ctx.io.out(`the secret above, push events. Pushes to ${connection.branch} then build and release like \`git push\` (berth builds ${ctx.app}).`);
  if (webhookSecret) ctx.io.out('The secret is shown this once: Berth keeps it encrypted and never prints it again.');
  if (connection.deployKey) ctx.io.out('Add the deploy key to the repository (read access is enough) before the first push.');
}

/** The lines apps:connect and apps:info print for a connection. */
export function connectionLines(c: GitConnection, secret: string | null = null): string[] {
  const pairs: Array<[string, string]> = [
    ['Repository', `${c.repo} (${c.branch})`],
    ['Webhook URL', c.webhookUrl],
    ...(secret ? [['Webhook secret', secret] as [string, string]] : []),
    ...(c.kind === 'https' ? [['Access token', c.token ? 'stored (encrypted)' : 'none (public repository)'] as [string, string]] : []),
    ...(c.deployKey ? [['Deploy key', c.deployKey] as [string, string]] : []),
  ];
  return keyValues(pairs);
}

async function disconnect(ctx: CommandContext): Promise<void> {
  const answer = await withProgress(ctx, `Disconnecting ${ctx.app} from its repository`, (api) => api.delete<{ disconnected: string }>(appPath(ctx.app, '/connection')));
  printedJson(ctx, answer);
}

export const connectCommands: Command[] = [
  {
    name: 'apps:connect', usage: 'APP --repo URL [--branch main] [--token-from-stdin [--token-user NAME]] [--secret-from-stdin]',
    summary: "deploy on the git host's push webhook (https:// with a token, or ssh with a deploy key Berth makes)",
    app: true,
    options: {
      repo: { type: 'string' }, branch: { type: 'string' }, 'token-from-stdin': { type: 'boolean' },
      'token-user': { type: 'string' }, 'secret-from-stdin': { type: 'boolean' },
    },
    run: connect,
  },
  { name: 'apps:disconnect', usage: 'APP', summary: "stop deploying on the git host's webhook", app: true, run: disconnect },
];
