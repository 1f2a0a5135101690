// POST /api/v1/apps/:app/runs: `berth run --detach`. The one-off runs without a caller (no stdin, no TTY);
// each line it prints goes to the app's log store as process "run", instance run.N, so `berth logs -p run`
// shows it. It ends with its command or its time limit; the end is in the audit trail.
import readline from 'node:readline';
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { BerthError } from '../../shared/errors.ts';
import { appLogKey } from '../../logstore/app-keys.ts';
import type { LogStore } from '../../logstore/store.ts';
import type { AttachedRun } from '../../scheduler/types.ts';
import { prepareRun } from './run.ts';

type RouteServices = Pick<Services, 'apps' | 'deployer' | 'audit' | 'logStore'>;

export function detachedRunRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.post('/:app/runs', async (c) => {
    const store = s.logStore;
    if (!store) throw new BerthError(503, 'logs_not_stored', 'This server keeps no log store, where a detached run\'s output goes; run it attached.');
    const body = await jsonBody(c);
    const app = s.apps.get(c.req.param('app'));
    const { req, start } = prepareRun(s, app.name, { command: body.command, type: body.type, memoryMB: body.memoryMB, timeout: body.timeout, tty: false });
    const run = await start(req);
    run.endInput();
    const key = appLogKey(app.id);
    toLogStore(run, store, key, req.release.version);
    const user = c.get('user');
    void run.exited.then((code) => {
      s.audit.record({ actor: user.name, action: 'run exit', app: app.name, target: run.name, status: 200, detail: `exit ${code} (detached): ${req.command.join(' ').slice(0, 200)}` });
      store.append(key, { ts: Date.now(), process: 'run', instance: run.name, release: req.release.version, stream: 'stdout', text: `${run.name} exited with code ${code}` });
    }).catch(() => {});
    c.set('auditDetail', `${run.name}: ${req.command.join(' ').slice(0, 200)}`);
    return c.json({ name: run.name }, 201);
  });
  return api;
}

/** Each output line as a log record of process "run" (long lines are the store's to bound). */
function toLogStore(run: AttachedRun, store: LogStore, key: string, release: number): void {
  for (const [stream, input] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
    readline.createInterface({ input, crlfDelay: Infinity }).on('line', (text) => {
      store.append(key, { ts: Date.now(), process: 'run', instance: run.name, release, stream, text });
    });
  }
}
