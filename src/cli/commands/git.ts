// git:remote, apps:branch, builds, and the git credential helper that keeps the token out of .git/config.
import { execFileSync } from 'node:child_process';
import { appPath } from '../client.ts';
import { CliError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { resolveCredentials, type Credentials } from '../credentials.ts';
import { relativeTime, table } from '../format.ts';
import type { App } from '../../wire/types.ts';
import { selfCommand, shellCommand } from '../../executable/self.ts';

interface Build { id: number; status: string; commitSha: string; ref: string; kind: string | null; releaseVersion: number | null; pushedBy: string; startedAt: string; error: string | null }

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new CliError(`git ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

async function addRemote(ctx: CommandContext): Promise<void> {
  const remote = stringFlag(ctx, 'remote') ?? 'paas';
  const app = await ctx.api().get<App>(appPath(ctx.app));
  git(['rev-parse', '--git-dir']);
  const existing = git(['remote']).split('\n');
  git(existing.includes(remote) ? ['remote', 'set-url', remote, app.gitUrl] : ['remote', 'add', remote, app.gitUrl]);
  // In this repository too, so a push works where nobody ran `berth login` (CI with BERTH_API_URL + BERTH_TOKEN).
  installCredentialHelper(app.gitUrl, 'local');
  ctx.io.out(`Git remote ${remote} → ${app.gitUrl}`);
  ctx.io.out(`Deploy with: git push ${remote} ${app.deployBranch}`);
}

async function setBranch(ctx: CommandContext): Promise<void> {
  const branch = ctx.args[0];
  const app = await withProgress(ctx, `Deploying pushes to ${branch} for ${ctx.app}`,
    (api) => api.patch<App>(appPath(ctx.app), { deployBranch: branch }));
  printedJson(ctx, app);
}

async function listBuilds(ctx: CommandContext): Promise<void> {
  const builds = await ctx.api().get<Build[]>(`${appPath(ctx.app)}/builds`);
  if (printedJson(ctx, builds)) return;
  if (builds.length === 0) return ctx.io.out(`${ctx.app} has no builds yet: git push to deploy.`);
  table(['ID', 'STATUS', 'COMMIT', 'KIND', 'RELEASE', 'BY', 'STARTED', 'ERROR'], builds.map((b) => [
    String(b.id), b.status, b.commitSha.slice(0, 7), b.kind ?? '-', b.releaseVersion ? `v${b.releaseVersion}` : '-',
    b.pushedBy, relativeTime(b.startedAt), (b.error ?? '').split('\n')[0].slice(0, 60), // the reason's first line; the rest spans lines
  ])).forEach((line) => ctx.io.out(line));
}

/**
 * git's credential helper protocol (git help credential): on `get`, git writes protocol/host/path lines
 * on stdin and reads username/password back. Answer only for the Berth server the CLI itself would talk to:
 * BERTH_API_URL + BERTH_TOKEN (CI, with no login) win over the stored login, as for every other command.
 */
async function credentialHelper(ctx: CommandContext): Promise<void> {
  if (ctx.args[0] !== 'get') return; // store/erase: the token lives in berth's own credentials file
  const asked = Object.fromEntries((await readStdin()).split('\n').filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  let credentials: Credentials;
  try {
    credentials = resolveCredentials(ctx.env);
  } catch {
    return; // not logged in anywhere: git goes on to its other helpers, or asks
  }
  const api = new URL(credentials.api);
  if (asked.protocol === api.protocol.replace(':', '') && asked.host === api.host) {
    ctx.io.out('username=berth');
    ctx.io.out(`password=${credentials.token}`);
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => { text += d; });
    process.stdin.on('end', () => resolve(text));
  });
}

/** Registers the helper for the server's URL only, so git asks berth for that server and nothing else. */
export function installCredentialHelper(url: string, scope: 'global' | 'local' = 'global'): string {
  const self = shellCommand(selfCommand());
  const key = `credential.${new URL(url).origin}.helper`;
  git(['config', `--${scope}`, '--replace-all', key, `!${self} git:credential`]);
  return key;
}

export const gitCommands: Command[] = [
  {
    name: 'git:remote', usage: 'APP [-r NAME]', summary: 'add the app\'s git remote (default name: paas) to this repo',
    app: true, options: { remote: { type: 'string', short: 'r' } }, run: addRemote,
  },
  { name: 'apps:branch', usage: 'APP BRANCH', summary: 'set the branch whose pushes deploy (default main)', app: true, args: [1, 1], run: setBranch },
  { name: 'builds', usage: 'APP', summary: 'list the app\'s builds', app: true, run: listBuilds },
  { name: 'git:credential', usage: 'get|store|erase', summary: 'git credential helper (installed by berth login)', args: [1, 1], run: credentialHelper },
];
