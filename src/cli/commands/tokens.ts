// tokens, tokens:create, tokens:revoke: your API tokens (with --all, everyone's: admins)
import { printedJson, stringFlag, UsageError, withProgress, type Command, type CommandContext } from '../command.ts';
import { relativeTime, table } from '../format.ts';
import { TOKEN_SCOPES, type ApiToken, type CreatedToken } from '../../wire/types.ts';

async function listTokens(ctx: CommandContext): Promise<void> {
  const tokens = await ctx.api().get<ApiToken[]>(ctx.flags.all ? '/tokens?all=1' : '/tokens');
  if (printedJson(ctx, tokens)) return;
  if (tokens.length === 0) return ctx.io.out('No tokens.');
  table(['ID', 'USER', 'SCOPE', 'EXPIRES', 'LAST USED', 'CREATED', 'DESCRIPTION'], tokens.map((t) => [
    `${t.id}${t.current ? '*' : ''}`, t.user, t.scope, t.expiresAt ? t.expiresAt.replace('T', ' ').slice(0, 16) : 'never',
    relativeTime(t.lastUsedAt), relativeTime(t.createdAt), t.description,
  ])).forEach((line) => ctx.io.out(line));
  if (tokens.some((t) => t.current)) ctx.io.out('* the token this command used');
}

async function createToken(ctx: CommandContext): Promise<void> {
  const scope = stringFlag(ctx, 'scope') ?? 'full';
  if (!(TOKEN_SCOPES as readonly string[]).includes(scope)) throw new UsageError(`--scope must be one of ${TOKEN_SCOPES.join(', ')}`);
  const body = { scope, expires: stringFlag(ctx, 'expires'), description: stringFlag(ctx, 'description') ?? '' };
  const created = await withProgress(ctx, `Creating a ${scope} token`, (api) => api.post<CreatedToken>('/tokens', body),
    (t) => `done, id ${t.id}${t.expiresAt ? `, expires ${t.expiresAt}` : ''}`);
  if (printedJson(ctx, created)) return;
  ctx.io.out('The token (shown once: store it now; berth tokens:revoke ' + created.id + ' ends it):');
  ctx.io.out(created.token);
}

async function revokeToken(ctx: CommandContext): Promise<void> {
  const id = ctx.args[0];
  if (!/^[1-9]\d*$/.test(id)) throw new UsageError('ID is the number berth tokens shows');
  const answer = await withProgress(ctx, `Revoking token ${id}`, (api) => api.delete<{ revoked: number }>(`/tokens/${id}`));
  printedJson(ctx, answer);
}

export const tokenCommands: Command[] = [
  { name: 'tokens', usage: '[--all]', summary: 'list your API tokens (--all: everyone\'s, admins)', options: { all: { type: 'boolean' } }, run: listTokens },
  {
    name: 'tokens:create', usage: '[--scope read|deploy|full|admin] [--expires 30d] [--description TEXT]',
    summary: 'create an API token and print it once (default scope full, never expires)',
    options: { scope: { type: 'string' }, expires: { type: 'string' }, description: { type: 'string' } }, run: createToken,
  },
  { name: 'tokens:revoke', usage: 'ID', summary: 'revoke a token: it stops working everywhere at once', args: [1, 1], run: revokeToken },
];
