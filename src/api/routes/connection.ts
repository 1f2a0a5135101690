// /apps/:app/connection: apps:connect, apps:disconnect, and the connection apps:info shows. Connecting
// checks the repository URL (shape and outbound policy) before anything is stored; the token, webhook
// secret and deploy key are stored sealed and only the public key (and a generated secret, once) go back.
import crypto from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { jsonBody } from '../errors.ts';
import { requestOrigin } from '../origin.ts';
import type { ViewContext } from '../views.ts';
import type { AppsStore } from '../../state/apps-store.ts';
import type { ConnectionsStore, GitConnectionRow } from '../../state/connections-store.ts';
import { badRequest, BerthError } from '../../shared/errors.ts';
import { parseBranch, parseRepoUrl } from '../../connect/repo-url.ts';
import type { RepoFetcher } from '../../connect/repo-fetcher.ts';
import { generateDeployKey } from '../../connect/deploy-key.ts';
import type { GitConnection, GitConnectResult } from '../../wire/types.ts';

export interface ConnectionRouteDeps {
  apps: Pick<AppsStore, 'get'>;
  connections: ConnectionsStore;
  fetcher: Pick<RepoFetcher, 'allowedAddresses'>;
  view: Pick<ViewContext, 'publicUrl'>;
  /** Whether the app is a review app (its source is its parent's branch, pushed to the parent). */
  isReviewApp(appId: number): boolean;
}

const TOKEN = /^[\x21-\x7e]{1,1000}$/;
const TOKEN_USER = /^[A-Za-z0-9._@+-]{1,100}$/;
const SECRET = /^[\x21-\x7e]{16,200}$/;

export function connectionRoutes(deps: ConnectionRouteDeps): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/connection', (c) => {
    const app = deps.apps.get(c.req.param('app'));
    const connection = deps.connections.find(app.id);
    if (!connection) throw notConnected(app.name);
    return c.json<GitConnection>(connectionView(app.name, connection, webhookUrl(c, deps, app.name)));
  });

  api.post('/:app/connection', async (c) => {
    const app = deps.apps.get(c.req.param('app'));
    if (deps.isReviewApp(app.id)) throw new BerthError(422, 'review_app', `${app.name} is a review app: it deploys its branch as pushed to its parent, not from a repository of its own.`);
    const body = await jsonBody(c);
    const repo = parseRepoUrl(body.repo);
    const branch = parseBranch(body.branch);
    const token = optional(body.token, TOKEN, 'token', 'the access token: printable characters, no spaces');
    const tokenUser = optional(body.tokenUser, TOKEN_USER, 'tokenUser', 'a user name for the token (letters, digits, . _ @ + -)');
    const givenSecret = optional(body.secret, SECRET, 'secret', 'the webhook secret: 16 to 200 printable characters, no spaces');
    if (repo.kind === 'ssh' && token !== null) throw badRequest('invalid_repo', 'An SSH repository takes no token: Berth generates a deploy key for it.');
    c.set('auditDetail', `repo ${repo.url} branch ${branch}${token ? ' with a token' : ''}`);
    await deps.fetcher.allowedAddresses(repo); // refused hosts are never stored
    const deployKey = repo.kind === 'ssh' ? await generateDeployKey(`berth-deploy-${app.name}`) : null;
    const webhookSecret = givenSecret ?? crypto.randomBytes(32).toString('hex');
    deps.connections.save(app.id, {
      repoUrl: repo.url, branch, kind: repo.kind, token: token === null ? null : { user: tokenUser ?? 'x-access-token', token },
      webhookSecret, deployKey: deployKey?.privateKey ?? null, deployPublicKey: deployKey?.publicKey ?? null, createdBy: c.get('user').name,
    });
    const connection = connectionView(app.name, deps.connections.find(app.id)!, webhookUrl(c, deps, app.name));
    return c.json<GitConnectResult>({ connection, webhookSecret: givenSecret === null ? webhookSecret : null }, 201);
  });

  api.delete('/:app/connection', (c) => {
    const app = deps.apps.get(c.req.param('app'));
    if (!deps.connections.remove(app.id)) throw notConnected(app.name);
    return c.json({ disconnected: app.name });
  });
  return api;
}

function connectionView(app: string, row: GitConnectionRow, webhookUrl: string): GitConnection {
  return {
    app, repo: row.repoUrl, branch: row.branch, kind: row.kind, webhookUrl, token: row.token !== null,
    deployKey: row.deployPublicKey, hostKeyKnown: !!row.knownHosts, createdBy: row.createdBy, createdAt: row.createdAt,
  };
}

function webhookUrl(c: Context, deps: ConnectionRouteDeps, app: string): string {
  return `${deps.view.publicUrl ?? requestOrigin(c)}/hooks/git/${app}`;
}

function optional(value: unknown, shape: RegExp, field: string, expected: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !shape.test(value)) throw badRequest('invalid_connection', `"${field}" must be ${expected}.`);
  return value;
}

const notConnected = (app: string) => new BerthError(404, 'not_connected', `${app} is not connected to a repository (berth apps:connect ${app} --repo URL).`);
