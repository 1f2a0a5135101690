// apps:reviews (review apps for branches) and config:no-review (config vars review apps do not get a copy of).
import { appPath } from '../client.ts';
import { UsageError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';
import { formatDuration } from '../../shared/duration.ts';
import type { ReviewApps } from '../../wire/types.ts';

function printReviews(ctx: CommandContext, answer: ReviewApps): void {
  if (printedJson(ctx, answer)) return;
  if (answer.destroyed?.length) ctx.io.out(`Destroyed ${answer.destroyed.join(', ')}.`);
  if (!answer.enabled) return ctx.io.out(`Review apps are off for ${answer.app}: pushes of other branches are only stored.`);
  ctx.io.out(`Review apps are on for ${answer.app}: each branch pushed besides its deploy branch gets an app ${answer.app}--BRANCH, ` +
    `destroyed ${formatDuration((answer.ttlSec ?? 0) * 1000)} after its last push or when the branch is deleted (git push REMOTE :BRANCH).`);
  if (answer.apps.length === 0) return;
  const expires = (iso: string | null) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : '-');
  table(['REVIEW APP', 'BRANCH', 'URL', 'EXPIRES'], answer.apps.map((a) => [a.name, a.branch, a.url, expires(a.expiresAt)]))
    .forEach((line) => ctx.io.out(line));
}

async function reviews(ctx: CommandContext): Promise<void> {
  const [mode] = ctx.args;
  const ttl = stringFlag(ctx, 'ttl');
  if (mode === undefined) {
    if (ttl !== undefined) throw new UsageError('--ttl goes with "on"');
    return printReviews(ctx, await ctx.api().get<ReviewApps>(appPath(ctx.app, '/reviews')));
  }
  if (mode !== 'on' && mode !== 'off') throw new UsageError(`expected on or off, got "${mode}"`);
  if (mode === 'off' && ttl !== undefined) throw new UsageError('--ttl goes with "on"');
  const label = mode === 'on' ? `Turning on review apps for ${ctx.app}` : `Turning off review apps for ${ctx.app} (destroying them)`;
  const answer = await withProgress(ctx, label, (api) => api.patch<ReviewApps>(appPath(ctx.app, '/reviews'), { enabled: mode === 'on', ttl }));
  printReviews(ctx, answer);
}

/** No keys: list the marked ones; keys: mark them (--unset: unmark). */
async function noReview(ctx: CommandContext): Promise<void> {
  const unset = ctx.flags.unset === true;
  if (ctx.args.length === 0) {
    if (unset) throw new UsageError('missing KEY');
    const keys = await ctx.api().get<string[]>(appPath(ctx.app, '/config/no-review'));
    if (printedJson(ctx, keys)) return;
    return ctx.io.out(keys.length ? keys.join('\n') : `Review apps of ${ctx.app} get a copy of all its config vars.`);
  }
  const body = Object.fromEntries(ctx.args.map((key) => [key, !unset]));
  const keys = await withProgress(ctx, `${unset ? 'Copying' : 'Keeping'} ${ctx.args.join(', ')} ${unset ? 'to' : 'out of'} ${ctx.app}'s review apps`,
    (api) => api.patch<string[]>(appPath(ctx.app, '/config/no-review'), body));
  printedJson(ctx, keys);
}

export const reviewCommands: Command[] = [
  {
    name: 'apps:reviews', usage: 'APP [on|off] [--ttl 72h]',
    summary: 'review apps: each other branch pushed gets an app APP--BRANCH with a copy of APP\'s config, destroyed with the ' +
      'branch or --ttl after its last push (default 72h); off destroys them; without on|off, shows them',
    app: true, args: [0, 1], options: { ttl: { type: 'string' } }, run: reviews,
  },
  {
    name: 'config:no-review', usage: 'APP [KEY...] [--unset]',
    summary: 'list the config vars review apps do not get a copy of; with KEYs, add them (--unset: copy them again)',
    app: true, args: [0, Number.POSITIVE_INFINITY], options: { unset: { type: 'boolean' } }, run: noReview,
  },
];
