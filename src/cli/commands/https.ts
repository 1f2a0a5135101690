// apps:https: whether plain HTTP requests to an app's names are redirected to HTTPS.
import { appPath } from '../client.ts';
import { CliError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import type { HttpsSettings } from '../../wire/types.ts';

async function https(ctx: CommandContext): Promise<void> {
  const redirect = stringFlag(ctx, 'redirect');
  if (redirect === undefined) {
    const settings = await ctx.api().get<HttpsSettings>(appPath(ctx.app, '/https'));
    if (printedJson(ctx, settings)) return;
    return ctx.io.out(`HTTP to HTTPS redirect: ${settings.redirect ? 'on' : 'off'}`);
  }
  if (redirect !== 'on' && redirect !== 'off') throw new CliError('--redirect takes on or off.');
  const settings = await withProgress(ctx, `Turning the HTTPS redirect of ${ctx.app} ${redirect}`, (api) =>
    api.patch<HttpsSettings>(appPath(ctx.app, '/https'), { redirect: redirect === 'on' }));
  printedJson(ctx, settings);
}

export const httpsCommands: Command[] = [
  {
    name: 'apps:https', usage: 'APP [--redirect on|off]', summary: 'show or set whether plain HTTP redirects to HTTPS',
    app: true, options: { redirect: { type: 'string' } }, run: https,
  },
];
