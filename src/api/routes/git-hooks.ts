// POST /hooks/git/:app: a git host's push webhook. No Berth token: the signature made with the app's
// webhook secret is the authentication. Anything unsigned, wrongly signed, or for an app that is not
// connected (or does not exist: not told apart) is refused 401 and recorded like a failed login. A push to
// the connected branch answers 202 with the build's id at once; the build runs in the background.
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { clientAddress } from '../origin.ts';
import type { AppsStore } from '../../state/apps-store.ts';
import type { AuditStore } from '../../state/audit-store.ts';
import type { ConnectionsStore } from '../../state/connections-store.ts';
import { BerthError, badRequest } from '../../shared/errors.ts';
import { isPlainRepoName } from '../../git/repos.ts';
import { checkSignature, readDelivery, type Header } from '../../connect/webhook-delivery.ts';
import type { WebhookDeploys } from '../../connect/webhook-deploys.ts';
import type { WebhookAnswer } from '../../wire/types.ts';

export interface GitHookDeps {
  apps: Pick<AppsStore, 'find'>;
  connections: Pick<ConnectionsStore, 'find'>;
  audit: Pick<AuditStore, 'record' | 'recordFailedAuth'>;
  deploys: Pick<WebhookDeploys, 'start'>;
}

/** GitHub caps its payloads at 25 MB, but a push's is a few KB; a larger body is not a push we deploy. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

export function gitHookRoutes(deps: GitHookDeps): Hono {
  const hooks = new Hono();
  hooks.post('/git/:app', bodyLimit({
    maxSize: MAX_WEBHOOK_BYTES,
    onError: () => { throw new BerthError(413, 'payload_too_large', `The webhook body is larger than ${MAX_WEBHOOK_BYTES} bytes.`); },
  }), async (c) => {
    const name = c.req.param('app');
    const body = Buffer.from(await c.req.arrayBuffer());
    const app = isPlainRepoName(name) ? deps.apps.find(name) : undefined;
    const connection = app ? deps.connections.find(app.id) : null;
    const header: Header = (h) => c.req.header(h);
    const check = connection ? checkSignature(header, body, connection.webhookSecret) : { ok: false as const, reason: 'webhook for an app that is not connected' };
    if (!check.ok || !app || !connection) {
      deps.audit.recordFailedAuth({ ip: clientAddress(c), reason: check.ok ? 'not connected' : check.reason, channel: `POST /hooks/git/${name.slice(0, 60)}` });
      throw new BerthError(401, 'invalid_signature', "The webhook is not signed with the app's webhook secret (or the app is not connected to a repository).");
    }
    const delivery = readDelivery(check.host, header, parsePayload(c, body));
    if ('error' in delivery) throw badRequest('invalid_webhook', delivery.error);
    const answer = (status: 200 | 202, a: WebhookAnswer) => c.json<WebhookAnswer>(a, status);
    if (delivery.kind === 'ping') return answer(200, { build: null, message: `Connected: pushes to ${connection.branch} deploy ${app.name}.` });
    if (delivery.kind === 'ignored') return answer(200, { build: null, message: `Ignored ${delivery.what}: only pushes deploy.` });
    if (delivery.branch !== connection.branch) {
      return answer(202, { build: null, message: `Ignored a ${delivery.kind === 'push' ? 'push to' : 'deletion of'} ${delivery.branch}: ${app.name} deploys ${connection.branch}.` });
    }
    if (delivery.kind === 'branch deleted') return answer(202, { build: null, message: `Ignored the deletion of ${delivery.branch}: ${app.name} keeps its release.` });
    const build = deps.deploys.start(app, { host: check.host, sha: delivery.sha });
    deps.audit.record({
      actor: `${check.host} webhook`, action: 'POST /hooks/git/:app', app: app.name, ip: clientAddress(c), status: 202,
      detail: `build ${build} of ${delivery.branch} ${delivery.sha.slice(0, 7)}`,
    });
    return answer(202, { build, message: `Building ${delivery.sha.slice(0, 7)} of ${delivery.branch} (build ${build}): berth builds ${app.name}.` });
  });
  return hooks;
}

/** JSON, or GitHub's form encoding (payload=<JSON>); a body that is neither reads as nothing. */
function parsePayload(c: Context, body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    if ((c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
      return JSON.parse(new URLSearchParams(text).get('payload') ?? 'null');
    }
    return JSON.parse(text);
  } catch {
    return null;
  }
}
