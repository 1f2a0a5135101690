// apps:rename: a new name for an app, its URL and git remote; it keeps serving throughout.
import { appPath } from '../client.ts';
import { printedJson, withProgress, type Command, type CommandContext } from '../command.ts';
import type { App } from '../../wire/types.ts';

async function renameApp(ctx: CommandContext): Promise<void> {
  const [newName] = ctx.args;
  const app = await withProgress(ctx, `Renaming ${ctx.app} to ${newName}`, (api) => api.patch<App>(appPath(ctx.app), { name: newName }));
  if (printedJson(ctx, app)) return;
  ctx.io.out(`${app.url} | ${app.gitUrl}`);
  ctx.io.out(`Point your git remote at the new name: berth git:remote ${app.name} (in the app's repository).`);
}

export const renameCommands: Command[] = [
  {
    name: 'apps:rename', usage: 'APP NEWNAME',
    summary: 'rename an app: its URL (NEWNAME.<domain>), git remote and images follow; it keeps serving',
    app: true, args: [1, 1], run: renameApp,
  },
];
