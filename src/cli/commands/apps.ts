// apps, apps:create, apps:info, apps:scheduler, apps:destroy
import { ApiError, appPath } from '../client.ts';
import { CliError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { formatVersion, keyValues, relativeTime, table } from '../format.ts';
import type { App, GitConnection } from '../../wire/types.ts';
import { connectionLines } from './connect.ts';
import { appStopCommands } from './stopping.ts';
import { maintenanceCommands } from './maintenance.ts';
import { formatDuration } from '../../shared/duration.ts';

async function listApps(ctx: CommandContext): Promise<void> {
  const apps = await ctx.api().get<App[]>('/apps');
  if (printedJson(ctx, apps)) return;
  if (apps.length === 0) return ctx.io.out('You have no apps yet. Create one with "berth apps:create NAME".');
  const ordered = underParents(apps);
  const reviewColumn = ordered.some((app) => app.reviewOf);
  const rows = ordered.map((app) => [
    app.reviewOf ? `  ${app.name}` : app.name,
    app.status,
    formatVersion(app.currentRelease),
    String(app.instances),
    app.scheduler,
    app.url,
    relativeTime(app.lastDeployAt),
    ...(reviewColumn ? [app.reviewOf ? `${app.reviewOf.app} (${app.reviewOf.branch})` : ''] : []),
  ]);
  const headers = ['NAME', 'STATUS', 'RELEASE', 'INSTANCES', 'SCHEDULER', 'URL', 'DEPLOYED', ...(reviewColumn ? ['REVIEW OF'] : [])];
  table(headers, rows).forEach((line) => ctx.io.out(line));
}

/** Each app followed by its review apps (indented); review apps whose parent is not listed come last. */
export function underParents(apps: App[]): App[] {
  const names = new Set(apps.map((app) => app.name));
  const childrenOf = (name: string) => apps.filter((app) => app.reviewOf?.app === name);
  return [
    ...apps.filter((app) => !app.reviewOf).flatMap((app) => [app, ...childrenOf(app.name)]),
    ...apps.filter((app) => app.reviewOf && !names.has(app.reviewOf.app)),
  ];
}

async function createApp(ctx: CommandContext): Promise<void> {
  const scheduler = stringFlag(ctx, 'scheduler');
  const app = await withProgress(ctx, `Creating ${ctx.app}`, (api) => api.post<App>('/apps', { name: ctx.app, scheduler }),
    (created) => `done, on ${created.scheduler}`);
  if (printedJson(ctx, app)) return;
  ctx.io.out(`${app.url} | ${app.gitUrl}`);
}

/** Moves an app to another scheduler with no downtime (the current release starts there first). */
async function setScheduler(ctx: CommandContext): Promise<void> {
  const [scheduler] = ctx.args;
  const app = await withProgress(ctx, `Moving ${ctx.app} to ${scheduler}`, (api) => api.patch<App>(appPath(ctx.app), { scheduler }));
  printedJson(ctx, app);
}

async function showApp(ctx: CommandContext): Promise<void> {
  const app = await ctx.api().get<App>(appPath(ctx.app));
  if (printedJson(ctx, app)) return;
  const dated = (iso: string | null) => (iso ? `${iso} (${relativeTime(iso)})` : '-');
  ctx.io.out(`=== ${app.name}`);
  const pairs: Array<[string, string]> = [
    ['Status', app.status],
    ['Maintenance', app.maintenance ? 'on (requests get 503)' : 'off'],
    ['Release', formatVersion(app.currentRelease)],
    ['Instances', String(app.instances)],
    ['Scheduler', app.scheduler],
    ['Web URL', app.url],
    ['Git URL', app.gitUrl],
    ['Domains', app.domains.join(', ') || '-'],
    ['Review apps', app.reviews ? `on (destroyed ${formatDuration(app.reviews.ttlSec * 1000)} after a branch's last push)` : 'off'],
    ...(app.reviewOf ? [['Review of', `${app.reviewOf.app}, branch ${app.reviewOf.branch}` +
      (app.reviewOf.expiresAt ? ` (destroyed ${app.reviewOf.expiresAt} unless pushed again)` : '')] as [string, string]] : []),
    ['Created', dated(app.createdAt)],
    ['Last deploy', dated(app.lastDeployAt)],
  ];
  keyValues(pairs).forEach((line) => ctx.io.out(line));
  const connection = await ctx.api().get<GitConnection>(appPath(ctx.app, '/connection')).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404) return null; // not connected
    throw err;
  });
  if (connection) connectionLines(connection).forEach((line) => ctx.io.out(line));
}

/** Deleting is irreversible, so the name has to be typed twice, as with Heroku. */
async function destroyApp(ctx: CommandContext): Promise<void> {
  const confirm = stringFlag(ctx, 'confirm');
  if (confirm !== ctx.app) {
    const given = confirm === undefined ? '' : ` ("${confirm}" does not match)`;
    throw new CliError(`refusing to destroy "${ctx.app}"${given}: re-run with --confirm ${ctx.app}`);
  }
  const answer = await withProgress(ctx, `Destroying ${ctx.app} (all releases, config and instances)`, (api) =>
    api.delete<{ deleted: string }>(appPath(ctx.app), { confirm }),
  );
  printedJson(ctx, answer);
}

export const appCommands: Command[] = [
  { name: 'apps', usage: '', summary: 'list apps', run: listApps },
  {
    name: 'apps:create', usage: 'APP [--scheduler docker|k3s]', summary: 'create an app (on the installation\'s default scheduler)',
    app: true, options: { scheduler: { type: 'string' } }, run: createApp,
  },
  { name: 'apps:info', usage: 'APP', summary: 'show an app', app: true, run: showApp },
  {
    name: 'apps:scheduler', usage: 'APP docker|k3s', summary: 'move an app to another scheduler, without downtime',
    app: true, args: [1, 1], run: setScheduler,
  },
  {
    name: 'apps:destroy',
    usage: 'APP --confirm APP',
    summary: 'delete an app with its releases, config and instances',
    app: true,
    options: { confirm: { type: 'string' } },
    run: destroyApp,
  },
  ...appStopCommands,
  ...maintenanceCommands,
];
