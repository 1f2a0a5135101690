// /apps/:app/formation, /ps, /ps/restart, /logs: what runs and what it says.
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { formationView, instanceView } from '../views.ts';
import { BerthError, badRequest } from '../../shared/errors.ts';
import type { LogLine } from '../../runtime/types.ts';
import type { LogStore } from '../../logstore/store.ts';
import type { LogQuery } from '../../logstore/range-reader.ts';
import { parseLogParams } from '../../logstore/query-params.ts';
import { apiNdjson, followStore } from '../../logstore/api-lines.ts';
import { recentLines } from '../../logstore/recent-lines.ts';
import { appLogKey, notBefore } from '../../logstore/app-keys.ts';
import type { FormationUpdate } from '../../releases/formation.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'apps' | 'deployer' | 'logStore' | 'schedulers' | 'autoscale'>;

const MAX_TAIL = 10_000;

export function psRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/formation', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const formation = s.apps.formation(app.id).map(formationView);
    return c.json(s.autoscale ? s.autoscale.annotate(app, formation) : formation);
  });

  api.patch('/:app/formation', async (c) => {
    const name = c.req.param('app');
    const app = s.apps.get(name);
    const body = await jsonBody(c);
    if (!Array.isArray(body.updates)) throw badRequest('bad_request', 'Expected {"updates": [{"type": "web", "quantity": 2}]}.');
    // An autoscaled type's quantity moves its range instead (the autoscaler keeps picking the count).
    const manual = s.autoscale?.manualScale(app, body.updates as FormationUpdate[]);
    const formation = (await s.deployer.scale(name, manual?.updates ?? body.updates as FormationUpdate[])).map(formationView);
    if (!s.autoscale || !manual?.ranges.size) return c.json(formation);
    s.autoscale.storeRanges(app, manual.ranges, c.get('user').name);
    c.set('auditDetail', [...manual.ranges].map(([type, r]) => `${type} is autoscaled: range set to ${r.min}-${r.max}`).join('; '));
    return c.json(s.autoscale.annotate(app, formation));
  });

  api.get('/:app/ps', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    // `berth run` one-offs too, as run.N; they are no instances of the formation (converges leave them alone).
    const runs = (await s.schedulers.forApp(app.name).runs?.(app.name)) ?? [];
    const instances = [...await s.schedulers.list(app.name), ...runs];
    instances.sort((a, b) => a.process.localeCompare(b.process) || a.index - b.index || a.release - b.release);
    return c.json(instances.map(instanceView));
  });

  api.post('/:app/ps/restart', async (c) => {
    const name = c.req.param('app');
    s.apps.get(name);
    const body = await jsonBody(c).catch(() => ({} as Record<string, unknown>));
    await s.deployer.restart(name, typeof body.type === 'string' ? body.type : undefined);
    return c.json((await s.schedulers.list(name)).map(instanceView));
  });

  api.get('/:app/logs', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const tail = Number(c.req.query('tail') ?? 100);
    if (!Number.isInteger(tail) || tail < 0 || tail > MAX_TAIL) throw badRequest('bad_request', `tail must be 0-${MAX_TAIL}.`);
    const follow = ['1', 'true'].includes(c.req.query('follow') ?? '');
    const params = parseLogParams(c.req.query(), Date.now());
    if (params.stored) {
      if (!s.logStore) throw new BerthError(503, 'logs_not_stored', 'This server keeps no log store; only tail and follow work.');
      if (follow && params.stored.until !== undefined) throw badRequest('bad_request', 'follow cannot be combined with until.');
      // Stored by id, from the app's creation on: nothing of an earlier app of the same name.
      const since = Math.max(params.stored.since ?? 0, notBefore(app));
      return streamStoredLogs(c, s.logStore, appLogKey(app.id), { ...params.stored, since }, follow);
    }
    const wanted = (line: LogLine) => (!params.process || line.process === params.process) &&
      (!params.instance || `${line.process}.${line.index}` === params.instance);
    c.header('content-type', 'application/x-ndjson');
    c.header('cache-control', 'no-cache');
    return stream(c, async (out) => {
      const abort = new AbortController();
      out.onAbort(() => abort.abort());
      if (!follow && s.logStore) {
        // Recent history, instances that are gone included (a failed deploy's), not only the live containers.
        const engine = filtered(s.schedulers.logs(app.name, { tail, follow: false, signal: abort.signal }), wanted);
        const lines = await recentLines(engine, s.logStore, appLogKey(app.id),
          { tail, process: params.process, instance: params.instance, notBefore: notBefore(app) }, Date.now());
        for (const line of lines) {
          await out.write(`${JSON.stringify(line)}\n`);
          if (out.aborted) break;
        }
        return;
      }
      for await (const line of s.schedulers.logs(app.name, { tail, follow, signal: abort.signal })) {
        if (!wanted(line)) continue;
        const { app: _app, ...rest } = line;
        await out.write(`${JSON.stringify(rest)}\n`);
        if (out.aborted) break;
      }
    });
  });
  return api;
}

async function* filtered(lines: AsyncIterable<LogLine>, wanted: (line: LogLine) => boolean): AsyncGenerator<LogLine> {
  for await (const line of lines) if (wanted(line)) yield line;
}

/** Lines from the store (time window and filters), then, with follow, the lines stored from then on. */
function streamStoredLogs(c: Context<ApiEnv>, store: LogStore, app: string, query: LogQuery, follow: boolean): Response {
  // Both taken now, in one tick: the follow starts exactly where the read's snapshot ends.
  const stored = apiNdjson(store.read(app, query));
  const abort = new AbortController();
  const live = follow ? followStore(store, app, { ...query, limit: undefined }, abort.signal) : null;
  c.header('content-type', 'application/x-ndjson');
  c.header('cache-control', 'no-cache');
  return stream(c, async (out) => {
    out.onAbort(() => abort.abort());
    try {
      for await (const text of stored) {
        await out.write(text);
        if (out.aborted) return;
      }
      if (!live) return;
      for await (const line of live) {
        await out.write(`${JSON.stringify(line)}\n`);
        if (out.aborted) return;
      }
    } finally {
      abort.abort();
      await stored.return(undefined);
    }
  });
}
