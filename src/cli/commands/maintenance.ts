// maintenance, maintenance:on, maintenance:off: the app's names answer 503 with a maintenance page
// (MAINTENANCE_PAGE_URL framed, or a plain default) while its instances keep running; no release.
import { appPath } from '../client.ts';
import { printedJson, withProgress, type Command, type CommandContext } from '../command.ts';
import type { App, AppSwitches } from '../../wire/types.ts';

async function show(ctx: CommandContext): Promise<void> {
  const app = await ctx.api().get<App>(appPath(ctx.app, ''));
  if (printedJson(ctx, { app: app.name, maintenance: app.maintenance })) return;
  ctx.io.out(app.maintenance ? 'on' : 'off');
}

function switchTo(enabled: boolean) {
  return async (ctx: CommandContext): Promise<void> => {
    const label = `${enabled ? 'Enabling' : 'Disabling'} maintenance mode for ${ctx.app}`;
    const result = await withProgress(ctx, label, (api) => api.post<AppSwitches>(appPath(ctx.app, '/maintenance'), { enabled }));
    printedJson(ctx, result);
  };
}

export const maintenanceCommands: Command[] = [
  { name: 'maintenance', usage: 'APP', summary: 'show whether the app is in maintenance mode', app: true, run: show },
  { name: 'maintenance:on', usage: 'APP', summary: 'answer every request with 503 and the maintenance page; instances keep running', app: true, run: switchTo(true) },
  { name: 'maintenance:off', usage: 'APP', summary: 'serve the app again', app: true, run: switchTo(false) },
];
