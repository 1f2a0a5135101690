// GET /api/v1/apps/:app/ps/:instance/terminal: a websocket to a shell in a running instance.
// Auth and app access come from the API's middleware (cookie or token); here: same-origin only (a
// cookie rides along on cross-site websocket upgrades, SameSite or not), and an audit record per session.
// Wire format: the browser sends JSON text frames {type:"input",data} / {type:"resize",cols,rows};
// the server sends the shell's output as binary frames and a final {type:"exit"} text frame.
import type { Context, MiddlewareHandler } from 'hono';
import { upgradeWebSocket } from '@hono/node-server';
import type { WSContext } from 'hono/ws';
import type { ApiEnv } from '../api/auth.ts';
import type { Services } from '../api/services.ts';
import { clientAddress } from '../api/audit.ts';
import type { ExecSession, Instance } from '../runtime/types.ts';
import { LOGIN_SHELL } from '../runtime/docker/exec.ts';
import { BerthError, notFound } from '../shared/errors.ts';
import type { EngineAccess } from './engines.ts';

const MAX_DIM = 1000;

/** Refuses cross-site upgrades, and upgrades the runtime cannot serve, before any websocket exists. */
export function terminalChecks(s: Services): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined || c.get('via') === 'session') {
      const host = c.req.header('host');
      let originHost: string | null = null;
      try { originHost = origin ? new URL(origin).host : null; } catch { /* malformed: refused below */ }
      if (!host || originHost !== host) throw new BerthError(403, 'cross_origin', 'Terminal connections are accepted only from the Berth console itself.');
    }
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') throw new BerthError(426, 'upgrade_required', 'Connect with a websocket.');
    await findInstance(s, c.req.param('app')!, c.req.param('instance')!);
    await next();
  };
}

/** "web.1": the running instance of that process and index, the current release's first. */
async function findInstance(s: Services, app: string, name: string): Promise<Instance> {
  const m = /^([a-z][a-z0-9_-]{0,29})\.(\d+)$/.exec(name);
  if (!m) throw new BerthError(400, 'bad_request', `Expected an instance like web.1, got "${name}".`);
  const current = s.apps.get(app).currentRelease;
  const candidates = (await s.runtime.list(app))
    .filter((i) => i.process === m[1] && i.index === Number(m[2]) && i.state === 'running')
    .sort((a, b) => Number(b.release === current) - Number(a.release === current) || b.release - a.release);
  if (!candidates.length) throw notFound(`No running instance ${name} of ${app}.`);
  return candidates[0];
}

export function terminalSocket(s: Services, engines: EngineAccess): MiddlewareHandler<ApiEnv> {
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

    const handle = (raw: string) => {
      let msg: { type?: string; data?: unknown; cols?: unknown; rows?: unknown };
      try { msg = JSON.parse(raw); } catch { return; }
      if (msg.type === 'input' && typeof msg.data === 'string') session?.write(msg.data);
      if (msg.type === 'resize') void session?.resize(dimension(msg.cols, size.cols), dimension(msg.rows, size.rows)).catch(() => {});
    };
    const finish = async (ws: WSContext | null) => {
      if (gone) return;
      gone = true;
      await session?.close();
      if (ws && ws.readyState === 1) { ws.send(JSON.stringify({ type: 'exit' })); ws.close(1000, 'shell ended'); }
      if (container) {
        const seconds = Math.round((Date.now() - openedAt) / 1000);
        s.audit.record({ actor: user.name, action: 'terminal close', app, target: container, ip, status: 200, detail: `${seconds} s` });
      }
    };

    return {
      onOpen: async (_event, ws) => {
        try {
          const instance = await findInstance(s, app, c.req.param('instance')!);
          session = await engines.exec(instance, { command: LOGIN_SHELL, ...size });
          container = instance.name;
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
