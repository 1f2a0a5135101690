// apps:stop, apps:start: take a whole app off and back on, its formation kept.
// ps:stop: stop one instance (web.2) or a process type (worker); fresh ones start in their place.
// A `berth run` one-off (run.N) is stopped for good.
import { appPath } from '../client.ts';
import { printedJson, withProgress, type Command, type CommandContext } from '../command.ts';
import { listSentence } from '../format.ts';
import type { AppSwitches } from '../../wire/types.ts';

function setRunning(running: boolean) {
  return async (ctx: CommandContext): Promise<void> => {
    const label = `${running ? 'Starting' : 'Stopping'} ${ctx.app}`;
    const result = await withProgress(ctx, label, (api) => api.post<AppSwitches>(appPath(ctx.app, running ? '/start' : '/stop'), {}));
    printedJson(ctx, result);
  };
}

async function stopInstances(ctx: CommandContext): Promise<void> {
  const target = ctx.args[0]!;
  const result = await withProgress(ctx, `Stopping ${target} of ${ctx.app}`,
    (api) => api.post<{ stopped: string[] }>(appPath(ctx.app, '/ps/stop'), { target }),
    ({ stopped }) => `done, stopped ${listSentence(stopped)}`);
  printedJson(ctx, result);
}

export const appStopCommands: Command[] = [
  { name: 'apps:stop', usage: 'APP', summary: 'stop every instance; the formation is kept for apps:start', app: true, run: setRunning(false) },
  { name: 'apps:start', usage: 'APP', summary: 'run the app again with its formation', app: true, run: setRunning(true) },
];

export const psStopCommand: Command = {
  name: 'ps:stop', usage: 'APP web.2|TYPE|run.N', summary: 'stop an instance, all of a process type (fresh ones replace them) or a one-off run.N', app: true, args: [1, 1], run: stopInstances,
};
