// users, users:create, users:remove (admins) and access, access:add, access:remove (an app's collaborators)
import { appPath } from '../client.ts';
import { printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';

interface UserRow { name: string; role: string; createdAt: string }
interface Member { name: string; role: string; addedAt: string }

async function listUsers(ctx: CommandContext): Promise<void> {
  const users = await ctx.api().get<UserRow[]>('/users');
  if (printedJson(ctx, users)) return;
  table(['NAME', 'ROLE', 'CREATED'], users.map((u) => [u.name, u.role, u.createdAt])).forEach((line) => ctx.io.out(line));
}

async function createUser(ctx: CommandContext): Promise<void> {
  const role = stringFlag(ctx, 'role') ?? 'member';
  const created = await withProgress(ctx, `Creating user ${ctx.args[0]} (${role})`, (api) =>
    api.post<{ name: string; role: string; token: string }>('/users', { name: ctx.args[0], role }));
  if (printedJson(ctx, created)) return;
  ctx.io.out(`Their token (shown once; they sign in with "berth login --token TOKEN" or in the web console):`);
  ctx.io.out(created.token);
}

async function removeUser(ctx: CommandContext): Promise<void> {
  const answer = await withProgress(ctx, `Removing user ${ctx.args[0]}`, (api) =>
    api.delete<{ deleted: string }>(`/users/${encodeURIComponent(ctx.args[0])}`));
  printedJson(ctx, answer);
}

async function listAccess(ctx: CommandContext): Promise<void> {
  const members = await ctx.api().get<Member[]>(appPath(ctx.app, '/access'));
  if (printedJson(ctx, members)) return;
  if (members.length === 0) return ctx.io.out(`${ctx.app} has no collaborators (admins see every app).`);
  table(['USER', 'ROLE', 'ADDED'], members.map((m) => [m.name, m.role, m.addedAt])).forEach((line) => ctx.io.out(line));
}

async function addAccess(ctx: CommandContext): Promise<void> {
  const members = await withProgress(ctx, `Adding ${ctx.args[0]} to ${ctx.app}`, (api) =>
    api.post<Member[]>(appPath(ctx.app, '/access'), { user: ctx.args[0] }));
  printedJson(ctx, members);
}

async function removeAccess(ctx: CommandContext): Promise<void> {
  const members = await withProgress(ctx, `Removing ${ctx.args[0]} from ${ctx.app}`, (api) =>
    api.delete<Member[]>(appPath(ctx.app, `/access/${encodeURIComponent(ctx.args[0])}`)));
  printedJson(ctx, members);
}

export const teamCommands: Command[] = [
  { name: 'users', usage: '', summary: 'list users (admins)', run: listUsers },
  {
    name: 'users:create', usage: 'NAME [--role member|admin]', summary: 'create a user and print their token (admins)',
    args: [1, 1], options: { role: { type: 'string' } }, run: createUser,
  },
  { name: 'users:remove', usage: 'NAME', summary: 'remove a user and revoke their tokens (admins)', args: [1, 1], run: removeUser },
  { name: 'access', usage: 'APP', summary: 'list the users who can use an app', app: true, run: listAccess },
  { name: 'access:add', usage: 'APP USER', summary: 'let a user see and deploy an app', app: true, args: [1, 1], run: addAccess },
  { name: 'access:remove', usage: 'APP USER', summary: 'take a user off an app', app: true, args: [1, 1], run: removeAccess },
];
