// The web console's live API (under /api/v1, behind the same auth and per-app access as everything):
// GET /events (server-sent events), GET /apps/:app/builds/:id/log (ndjson, follows a running build)
// and the terminal websocket.
import { Hono } from 'hono';
import { stream, streamSSE } from 'hono/streaming';
import type { ApiEnv } from '../api/auth.ts';
import type { Services } from '../api/services.ts';
import type { BuildLogStore } from '../pipeline/build-log.ts';
import type { EventHub, HubEvent } from './event-hub.ts';
import { instanceTerminal, terminalChecks, terminalSocket } from './terminal.ts';
import type { EngineAccess } from './engines.ts';
import { badRequest, notFound } from '../shared/errors.ts';

const HEARTBEAT_MS = 15_000;

export interface LiveDeps { hub: EventHub; buildLogs: BuildLogStore; engines: EngineAccess }

export function liveRoutes(s: Services, live: LiveDeps): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/events', (c) => {
    c.header('cache-control', 'no-cache');
    return streamSSE(c, async (out) => {
      const queue: HubEvent[] = [];
      let wake: (() => void) | null = null;
      const unsubscribe = live.hub.subscribe(c.get('user'), (event) => { queue.push(event); wake?.(); });
      const heartbeat = setInterval(() => wake?.(), HEARTBEAT_MS);
      out.onAbort(() => wake?.());
      try {
        await out.writeSSE({ event: 'hello', data: JSON.stringify({ user: c.get('user').name }) });
        while (!out.aborted) {
          if (!queue.length) {
            await new Promise<void>((resolve) => { wake = resolve; });
            wake = null;
            if (!queue.length && !out.aborted) await out.write(': keep-alive\n\n');
          }
          for (const event of queue.splice(0)) await out.writeSSE({ event: event.type, data: JSON.stringify(event.data) });
        }
      } finally {
        clearInterval(heartbeat);
        unsubscribe();
      }
    });
  });

  api.get('/apps/:app/builds/:id/log', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const id = Number(c.req.param('id'));
    if (!Number.isSafeInteger(id) || id < 1) throw badRequest('bad_request', 'A build id is a positive number.');
    if (!s.builds.list(app.id, 1000).some((b) => b.id === id)) throw notFound(`Build ${id} of ${app.name} not found.`);
    c.header('content-type', 'application/x-ndjson');
    c.header('cache-control', 'no-cache');
    return stream(c, async (out) => {
      const abort = new AbortController();
      out.onAbort(() => abort.abort());
      for await (const line of live.buildLogs.follow(id, abort.signal)) {
        await out.write(`${JSON.stringify({ line })}\n`);
        if (out.aborted) return;
      }
      const build = s.builds.list(app.id, 1000).find((b) => b.id === id);
      await out.write(`${JSON.stringify({ done: true, status: build?.status ?? 'unknown' })}\n`);
    });
  });

  const shell = instanceTerminal(s, live.engines);
  api.get('/apps/:app/ps/:instance/terminal', terminalChecks(s, shell), terminalSocket(s, shell));
  return api;
}
