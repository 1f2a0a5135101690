// GET /api/v1/apps/:app/ps/:instance/terminal: a websocket to a shell in a running instance (and, through the
// same socket, addons:connect's client in a data service: GET /api/v1/apps/:app/addons/:name/connect).
// Auth, scope and app access come from the API's middleware (cookie or token); here: same-origin only (a
// cookie rides along on cross-site websocket upgrades, SameSite or not), an audit record per session, and
// a re-check every few seconds that ends the session once its token, session, user or app access is gone.
// Wire format: the browser sends JSON text frames {type:"input",data} / {type:"resize",cols,rows};
// the server sends the shell's output as binary frames and a final {type:"exit"} text frame.
import type { Context, MiddlewareHandler } from 'hono';
import { upgradeWebSocket } from '@hono/node-server';
import type { WSContext } from 'hono/ws';
import { recheckCaller, sameOrigin, type ApiEnv } from '../api/auth.ts';
import { scopeAllows } from '../api/scopes.ts';
import type { Services } from '../api/services.ts';
import { clientAddress } from '../api/audit.ts';
import type { ExecSession, Instance } from '../runtime/types.ts';
import { LOGIN_SHELL } from '../runtime/docker/exec.ts';
import { BerthError, notFound } from '../shared/errors.ts';
import type { EngineAccess } from './engines.ts';

const MAX_DIM = 1000;
/** How often an open terminal asks again whether its caller may still use it. */
export const RECHECK_MS = Number(process.env.BERTH_TERMINAL_RECHECK_MS) || 3000;

/** Why an open terminal (or `berth run`) must end now (token revoked or expired, user removed, access taken), or null. */
export function lostAccess(s: Pick<Services, 'auth' | 'sessions' | 'access'>, c: Context<ApiEnv>, app: string): string | null {
  const fresh = recheckCaller(c.get('credential'), s.auth, s.sessions);
  if (fresh instanceof BerthError) return fresh.message;
  if (!s.access.canSee(fresh.user, app)) return `${fresh.user.name} no longer has access to ${app}.`;
  if (!scopeAllows(fresh.scope, 'GET', c.req.path.replace(/^\/api\/v1/, ''))) return 'This token no longer allows a terminal.';
  return null;
}

/** What a terminal needs of the server's services. */
export type TerminalServices = Pick<Services, 'auth' | 'sessions' | 'access' | 'audit' | 'view'>;

/** Where a terminal's process runs: `find` checks it exists (before the upgrade), `open` starts the process. */
export interface TerminalTarget {
  find(c: Context<ApiEnv>): Promise<void>;
  open(c: Context<ApiEnv>, size: { cols: number; rows: number }): Promise<{ session: ExecSession; name: string }>;
}

/** A login shell in the running instance named by the route's :instance (web.1). */
export function instanceTerminal(s: Services, engines: EngineAccess): TerminalTarget {
  return {
    find: async (c) => { await findInstance(s, c.req.param('app')!, c.req.param('instance')!); },
    open: async (c, size) => {
      const instance = await findInstance(s, c.req.param('app')!, c.req.param('instance')!);
      return { session: await engines.exec(instance, { command: LOGIN_SHELL, ...size }), name: instance.name };
    },
  };
}

/** Refuses cross-site upgrades, and upgrades the runtime cannot serve, before any websocket exists. */
export function terminalChecks(s: TerminalServices, target: TerminalTarget): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const same = sameOrigin(c, s.view.publicUrl);
    if (same === false || (same === null && c.get('via') === 'session')) {
      throw new BerthError(403, 'cross_origin', 'Terminal connections are accepted only from the Berth console itself.');
    }
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') throw new BerthError(426, 'upgrade_required', 'Connect with a websocket.');
    await target.find(c);
    await next();
  };
}

/** "web.1": the running instance of that process and index, the current release's first. */
async function findInstance(s: Services, app: string, name: string): Promise<Instance> {
  const m = /^([a-z][a-z0-9_-]{0,29})\.(\d+)$/.exec(name);
  if (!m) throw new BerthError(400, 'bad_request', `Expected an instance like web.1, got "${name}".`);
  const current = s.apps.get(app).currentRelease;
  const candidates = (await s.schedulers.list(app))
    .filter((i) => i.process === m[1] && i.index === Number(m[2]) && i.state === 'running')
    .sort((a, b) => Number(b.release === current) - Number(a.release === current) || b.release - a.release);
  if (!candidates.length) throw notFound(`No running instance ${name} of ${app}.`);
  return candidates[0];
}

export function terminalSocket(s: TerminalServices, target: TerminalTarget): MiddlewareHandler<ApiEnv> {
  return upgradeWebSocket((c: Context<ApiEnv>) => {
    const app = c.req.param('app')!;
    const user = c.get('user');
    const ip = clientAddress(c);
    const size = { cols: dimension(c.req.query('cols'), 80), rows: dimension(c.req.query('rows'), 24) };
    let session: ExecSession | null = null;
    let container = '';
    let openedAt = 0;
    let gone = false;
    const pending: string[] = [];

    // In the order they came: input typed after a resize reaches the shell once the new size is set.
    let inOrder: Promise<void> = Promise.resolve();
    const handle = (raw: string) => {
      let msg: { type?: string; data?: unknown; cols?: unknown; rows?: unknown };
      try { msg = JSON.parse(raw); } catch { return; }
      if (msg.type === 'input' && typeof msg.data === 'string') {
        const data = msg.data;
        inOrder = inOrder.then(() => session?.write(data)).catch(() => {});
      }
      if (msg.type === 'resize') {
        const [cols, rows] = [dimension(msg.cols, size.cols), dimension(msg.rows, size.rows)];
        inOrder = inOrder.then(() => session?.resize(cols, rows)).catch(() => {});
      }
    };
    let recheck: NodeJS.Timeout | undefined;
    /** `revoked`: the caller lost access; the browser gets the reason before the socket closes (4403). */
    const finish = async (ws: WSContext | null, revoked?: string) => {
      if (gone) return;
      gone = true;
      clearInterval(recheck);
      await session?.close();
      if (ws && ws.readyState === 1) {
        if (revoked) ws.send(JSON.stringify({ type: 'error', message: `Terminal closed: ${revoked}` }));
        ws.send(JSON.stringify({ type: 'exit' }));
        ws.close(revoked ? 4403 : 1000, revoked ? 'access revoked' : 'shell ended');
      }
      if (container) {
        const seconds = Math.round((Date.now() - openedAt) / 1000);
        s.audit.record({ actor: user.name, action: 'terminal close', app, target: container, ip, status: revoked ? 401 : 200, detail: `${seconds} s${revoked ? `; ${revoked}` : ''}` });
      }
    };

    return {
      onOpen: async (_event, ws) => {
        recheck = setInterval(() => {
          let why: string | null = null;
          try { why = lostAccess(s, c, app); } catch { return; } // the database closing at shutdown: nothing to decide
          if (why) void finish(ws, why);
        }, RECHECK_MS);
        try {
          const opened = await target.open(c, size);
          session = opened.session;
          container = opened.name;
          openedAt = Date.now();
          s.audit.record({ actor: user.name, action: 'terminal open', app, target: container, ip, status: 200 });
          if (gone) { gone = false; await finish(null); return; } // the browser left while the shell started
          session.output.on('data', (chunk: Buffer) => { if (ws.readyState === 1) ws.send(new Uint8Array(chunk)); });
          void session.ended.then(() => finish(ws));
          for (const raw of pending.splice(0)) handle(raw);
        } catch (err) {
          if (ws.readyState === 1) {
            ws.send(JSON.stringify({ type: 'error', message: (err as Error).message }));
            ws.close(1011, 'could not start a shell');
          }
        }
      },
      onMessage: (event) => {
        const raw = typeof event.data === 'string' ? event.data : Buffer.from(event.data as ArrayBuffer).toString('utf8');
        if (session) handle(raw); else pending.push(raw);
      },
      onClose: () => { void finish(null); },
    };
  });
}

function dimension(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 && n <= MAX_DIM ? n : fallback;
}
