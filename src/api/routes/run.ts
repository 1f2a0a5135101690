// GET /api/v1/apps/:app/run (websocket): `berth run`, a command in a fresh one-off of the current release
// with the app's config, attached to the caller. Checked before the upgrade (same-origin, a release to run,
// the command and its limits), so a refusal is an ordinary error status (its message
// also in the X-Berth-Error header: a refused upgrade carries no body). The one-off
// never outlives its caller: a closed socket kills it. Start and end are in the audit trail.
import { Hono, type Context } from 'hono';
import { upgradeWebSocket } from '@hono/node-server';
import type { WSContext } from 'hono/ws';
import { sameOrigin, type ApiEnv } from '../auth.ts';
import { clientAddress } from '../audit.ts';
import type { Services } from '../services.ts';
import { BerthError, badRequest } from '../../shared/errors.ts';
import type { AttachedRun, AttachedRunRequest } from '../../scheduler/types.ts';
import { lostAccess, RECHECK_MS } from '../../web/terminal.ts';
import { RUN_ERROR_HEADER, RUN_STDERR, RUN_STDOUT, type RunControl, type RunEvent } from '../../wire/types.ts';

type RouteServices = Pick<Services, 'apps' | 'deployer' | 'audit' | 'view' | 'auth' | 'sessions' | 'access'>;

const MAX_DIM = 1000;
const MAX_COMMAND_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_SEC = 3600;
const MAX_TIMEOUT_SEC = 24 * 3600;
const MAX_EARLY_BYTES = 1024 * 1024;

export function runRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.get('/:app/run', async (c, next) => {
    try {
      await checkBeforeUpgrade(s, c);
    } catch (err) {
      // A refused upgrade loses its body on the way out (@hono/node-server): the message rides in a header too.
      if (err instanceof BerthError) c.header(RUN_ERROR_HEADER, encodeURIComponent(err.message));
      throw err;
    }
    await next();
  }, upgradeWebSocket((c: Context<ApiEnv>) => runSocket(s, c, prepared.get(c.req.raw)!)));
  return api;
}

async function checkBeforeUpgrade(s: RouteServices, c: Context<ApiEnv>): Promise<void> {
  const same = sameOrigin(c, s.view.publicUrl);
  if (same === false || (same === null && c.get('via') === 'session')) {
    throw new BerthError(403, 'cross_origin', 'berth run is accepted only from the CLI or the Berth console itself.');
  }
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') throw new BerthError(426, 'upgrade_required', 'Connect with a websocket.');
  const q = (name: string) => c.req.query(name);
  prepared.set(c.req.raw, prepareRun(s, c.req.param('app')!, {
    command: parseJson(q('command')), type: q('type'), memoryMB: q('memoryMB'), timeout: q('timeout'), tty: q('tty') === '1', cols: q('cols'), rows: q('rows'),
  }));
}

function parseJson(raw: string | undefined): unknown {
  try { return JSON.parse(raw ?? ''); } catch { return null; }
}

/** What the checks before the upgrade resolved, for the socket that follows (per request). */
const prepared = new WeakMap<Request, Prepared>();

export interface Prepared { req: AttachedRunRequest; start: (req: AttachedRunRequest) => Promise<AttachedRun> }

/** What a caller asks for, from the websocket's query or a detached run's body; checked by prepareRun. */
export interface RunInput { command: unknown; type?: unknown; memoryMB?: unknown; timeout?: unknown; tty: boolean; cols?: unknown; rows?: unknown }

/** Everything checked and resolved before anything starts: the command, its limits, the release and its scheduler. */
export function prepareRun(s: Pick<Services, 'apps' | 'deployer'>, appName: string, input: RunInput): Prepared {
  const app = s.apps.get(appName);
  const command = parseCommand(input.command);
  const scheduler = s.deployer.scheduler(app);
  const current = s.deployer.currentRelease(app);
  if (!current?.imageId) throw new BerthError(422, 'no_release', `${app.name} has no release to run a command in yet: deploy it first.`);
  const type = input.type === undefined ? undefined : String(input.type);
  const formation = s.apps.formation(app.id);
  if (type !== undefined && !formation.some((f) => f.type === type)) throw badRequest('invalid_process_type', `${app.name} has no process type "${type.slice(0, 40)}".`);
  const memoryMB = optionalNumber(input.memoryMB, 'memoryMB', 4, 64 * 1024) ?? formation.find((f) => f.type === type)?.memoryMB ?? null;
  const timeoutSec = optionalNumber(input.timeout, 'timeout', 1, MAX_TIMEOUT_SEC) ?? DEFAULT_TIMEOUT_SEC;
  return {
    start: (req) => scheduler.runAttached(req),
    req: {
      app: app.name,
      release: { version: current.version, imageId: current.imageId, imageRef: current.imageRef, config: current.config, containerPort: current.containerPort },
      command,
      env: { BERTH_APP: app.name, BERTH_RELEASE: `v${current.version}`, ...(type ? { BERTH_PROCESS_TYPE: type } : {}) },
      memoryMB: memoryMB === null ? null : Math.round(memoryMB),
      timeoutSec: Math.round(timeoutSec),
      tty: input.tty,
      cols: dimension(input.cols, 80),
      rows: dimension(input.rows, 24),
    },
  };
}

/** The command as an array of strings (argv, no shell in between), bounded. */
function parseCommand(command: unknown): string[] {
  if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string')) {
    throw badRequest('bad_request', 'command must be a JSON array of strings, e.g. ["npm","run","migrate"].');
  }
  if (command.some((a) => a.includes('\0')) || Buffer.byteLength(command.join(' ')) > MAX_COMMAND_BYTES) throw badRequest('bad_request', 'The command is too long or holds a NUL byte.');
  if (command[0] === '') throw badRequest('bad_request', 'The command needs a program to run.');
  return command;
}

function optionalNumber(raw: unknown, name: string, min: number, max: number): number | null {
  if (raw === undefined || raw === null) return null;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw badRequest('bad_request', `${name} must be a number from ${min} to ${max}.`);
  return n;
}

function dimension(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 && n <= MAX_DIM ? n : fallback;
}

function runSocket(s: RouteServices, c: Context<ApiEnv>, prepared: Prepared) {
  const user = c.get('user');
  const ip = clientAddress(c);
  const app = prepared.req.app;
  const shown = prepared.req.command.join(' ').slice(0, 200);
  let run: AttachedRun | null = null;
  let exited = false;
  let closed = false;
  // What the caller sent while the one-off was starting (bounded: a flood before the start ends the session).
  const early: Array<string | Buffer> = [];
  let earlyBytes = 0;
  const send = (ws: WSContext, event: RunEvent) => { if (ws.readyState === 1) ws.send(JSON.stringify(event)); };
  const frame = (ws: WSContext, stream: number) => (chunk: Buffer) => {
    if (ws.readyState === 1) ws.send(new Uint8Array(Buffer.concat([Buffer.from([stream]), chunk])));
  };

  // In the order they came: input typed after a resize reaches the command once the new size is set.
  let inOrder: Promise<unknown> = Promise.resolve();
  const handle = (data: string | Buffer) => {
    const current = run!;
    if (typeof data !== 'string') { inOrder = inOrder.then(() => current.write(data)).catch(() => {}); return; }
    let msg: Partial<RunControl> & { cols?: unknown; rows?: unknown; signal?: unknown };
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.type === 'resize') inOrder = inOrder.then(() => current.resize(dimension(msg.cols, 80), dimension(msg.rows, 24))).catch(() => {});
    if (msg.type === 'eof') inOrder = inOrder.then(() => current.endInput()).catch(() => {});
    if (msg.type === 'signal' && (msg.signal === 'SIGINT' || msg.signal === 'SIGTERM')) {
      const signal = msg.signal;
      inOrder = inOrder.then(() => current.signal(signal)).catch(() => {});
    }
  };

  let recheck: NodeJS.Timeout | undefined;
  return {
    onOpen: async (_event: unknown, ws: WSContext) => {
      // Like the terminal: a token revoked (user removed, access taken) mid-run ends it.
      recheck = setInterval(() => {
        let why: string | null = null;
        try { why = lostAccess(s, c, app); } catch { return; } // the database closing at shutdown
        if (!why) return;
        send(ws, { type: 'error', message: `berth run ended: ${why}` });
        ws.close(4403, 'access revoked');
      }, RECHECK_MS);
      try {
        run = await prepared.start(prepared.req);
      } catch (err) {
        send(ws, { type: 'error', message: (err as Error).message });
        ws.close(1011, 'could not start the command');
        return;
      }
      const current = run;
      s.audit.record({ actor: user.name, action: 'run start', app, target: current.name, ip, status: 200, detail: shown });
      send(ws, { type: 'started', name: current.name });
      current.stdout.on('data', frame(ws, RUN_STDOUT));
      current.stderr.on('data', frame(ws, RUN_STDERR));
      for (const data of early.splice(0)) handle(data);
      if (closed) void current.signal('SIGKILL').catch(() => {}); // the caller left while it started
      void current.exited.then((code) => {
        exited = true;
        s.audit.record({ actor: user.name, action: 'run exit', app, target: current.name, ip, status: 200, detail: `exit ${code}: ${shown}` });
        send(ws, { type: 'exit', code });
        if (ws.readyState === 1) ws.close(1000, 'command ended');
      }).catch((err) => {
        send(ws, { type: 'error', message: (err as Error).message });
        if (ws.readyState === 1) ws.close(1011, 'the command broke off');
      });
    },
    onMessage: (event: { data: unknown }, ws: WSContext) => {
      const data = typeof event.data === 'string' ? event.data : Buffer.from(event.data as ArrayBuffer);
      if (run) return handle(data);
      earlyBytes += data.length;
      if (earlyBytes > MAX_EARLY_BYTES) return void ws.close(1009, 'too much input before the command started');
      early.push(data);
    },
    // It never outlives its caller: a closed socket (a lost connection, a killed CLI) kills it.
    onClose: () => {
      closed = true;
      clearInterval(recheck);
      if (run && !exited) void run.signal('SIGKILL').catch(() => {});
    },
  };
}
