// deploy, releases, releases:info, rollback
import { ApiError, appPath } from '../client.ts';
import { CliError, UsageError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { formatFormation, formatVersion, keyValues, listSentence, relativeTime, table } from '../format.ts';
import { parseVersion } from '../parse.ts';
import type { Release } from '../../wire/types.ts';
import { CANARY_OPTIONS, canaryStatus, describeComparison, planFromFlags } from './canary.ts';

async function deploy(ctx: CommandContext): Promise<void> {
  const image = stringFlag(ctx, 'image');
  if (!image) throw new UsageError('--image is required');
  const canary = planFromFlags(ctx);
  try {
    const release = await withProgress(
      ctx,
      `Deploying ${image} to ${ctx.app}${canary ? ' as a canary' : ''}`,
      (api) => api.post<Release>(appPath(ctx.app, '/deploys'), canary ? { image, canary } : { image }),
      (release) => `done, ${formatVersion(release.version)}${release.canary ? ` is a canary at ${release.canary.weight} %` : ''}`,
    );
    printedJson(ctx, release);
  } catch (error) {
    throw explainFailedRelease(error);
  }
}

/** A failed release comes back as 422 with the release attached; its reason is the useful part. */
function explainFailedRelease(error: unknown): unknown {
  if (!(error instanceof ApiError) || error.code !== 'release_failed') return error;
  const release = error.body.release as Partial<Release> | undefined;
  const reason = release?.failureReason || error.message;
  const version = release?.version ? ` ${formatVersion(release.version)}` : '';
  return new CliError(`release${version} failed: ${reason}`);
}

async function listReleases(ctx: CommandContext): Promise<void> {
  const releases = await ctx.api().get<Release[]>(appPath(ctx.app, '/releases'));
  if (printedJson(ctx, releases)) return;
  if (releases.length === 0) return ctx.io.out(`${ctx.app} has no releases yet. Deploy with "git push paas main" (berth git:remote ${ctx.app}) or "berth deploy ${ctx.app} --image REF".`);
  const rows = releases.map((release) => [
    formatVersion(release.version) + (release.current ? ' *' : ''),
    canaryStatus(release),
    release.description,
    relativeTime(release.createdAt),
  ]);
  table(['VERSION', 'STATUS', 'DESCRIPTION', 'CREATED'], rows).forEach((line) => ctx.io.out(line));
  if (releases.some((release) => release.current)) ctx.io.out('* current release');
  const running = releases.find((release) => release.canary?.state === 'running');
  if (running) describeComparison(running.version, running.canary!).forEach((line) => ctx.io.out(line));
}

/** One release in full, like `heroku releases:info`: who, when, what changed (config keys, never values). */
async function showRelease(ctx: CommandContext): Promise<void> {
  const version = parseVersion(ctx.args[0]);
  const release = await ctx.api().get<Release>(appPath(ctx.app, `/releases/${version}`));
  if (printedJson(ctx, release)) return;
  const dated = (iso: string | null) => (iso ? `${iso} (${relativeTime(iso)})` : '-');
  const changes = release.configChanges;
  const changed = [['added', changes.added], ['removed', changes.removed], ['changed', changes.changed]] as const;
  const configChange = changed.filter(([, keys]) => keys.length).map(([what, keys]) => `${what} ${listSentence(keys)}`);
  ctx.io.out(`=== Release ${formatVersion(release.version)} of ${ctx.app}${release.current ? ' (current)' : ''}`);
  const pairs: Array<[string, string]> = [
    ['Description', release.description],
    ['Status', canaryStatus(release) + (release.failureReason ? `: ${release.failureReason}` : '')],
    ['By', release.createdBy],
    ['Created', dated(release.createdAt)],
    ['Finished', dated(release.finishedAt)],
    ['Image', release.image ?? '-'],
    ['Digest', release.imageDigest ?? '-'],
    ['Formation', release.formation.map(formatFormation).join(' ') || '-'],
    ['Config vars', release.configKeys.join(', ') || '-'],
    ['Config change', configChange.join('; ') || '-'],
  ];
  keyValues(pairs).forEach((line) => ctx.io.out(line));
}

async function rollback(ctx: CommandContext): Promise<void> {
  const version = ctx.args[0] === undefined ? undefined : parseVersion(ctx.args[0]);
  const target = version === undefined ? '' : ` to ${formatVersion(version)}`;
  try {
    const release = await withProgress(
      ctx,
      `Rolling back ${ctx.app}${target}`,
      (api) => api.post<Release>(appPath(ctx.app, '/rollback'), version === undefined ? {} : { version }),
      (release) => `done, ${formatVersion(release.version)}`,
    );
    printedJson(ctx, release);
  } catch (error) {
    throw explainFailedRelease(error);
  }
}

export const releaseCommands: Command[] = [
  {
    name: 'deploy',
    usage: 'APP --image REF [--canary 10 | --canary-step 10,25,50,100 --every 2m] [--canary-header N=V] [--canary-cookie N=V] [--sticky] [--warmup 30s]',
    summary: 'release a container image (waits until it is live), or start it as a canary beside the current release',
    app: true,
    options: { image: { type: 'string', short: 'i' }, ...CANARY_OPTIONS },
    run: deploy,
  },
  { name: 'releases', usage: 'APP', summary: 'list releases, newest first', app: true, run: listReleases },
  {
    name: 'releases:info', usage: 'APP vN', summary: 'show one release: who made it, when, its image, formation and config changes',
    app: true, args: [1, 1], run: showRelease,
  },
  {
    name: 'rollback',
    usage: 'APP [vN]',
    summary: 'release an earlier version again (default: the one before the current)',
    app: true,
    args: [0, 1],
    run: rollback,
  },
];
