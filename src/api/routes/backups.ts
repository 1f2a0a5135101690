// /addons/:name/backups: add-on backups (capture, list, download, restore, schedule) for members who can see an
// app the add-on is attached to. Changes are audited by the trail with details naming the add-on and backup;
// a download (a GET) is recorded here. No detail holds a credential.
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { jsonBody } from '../errors.ts';
import { clientAddress } from '../origin.ts';
import { withUpload } from '../upload.ts';
import { BerthError } from '../../shared/errors.ts';
import { BACKUP_SHA256_HEADER } from '../../wire/types.ts';
import type { AccessStore } from '../../state/access-store.ts';
import type { AuditStore } from '../../state/audit-store.ts';
import type { Caller } from '../../addons/service.ts';
import type { AddonBackups } from '../../addons/backups/engine.ts';

/** A restore from a file streams the dump: the API's JSON body limit does not apply to it. */
export const RESTORE_UPLOAD_PATH = /^\/api\/v1\/addons\/[^/]+\/restore$/;

export function backupsRoutes(s: { backups: AddonBackups; access: AccessStore; audit: AuditStore }): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const caller = (c: Context<ApiEnv>): Caller => {
    const user = c.get('user');
    return { name: user.name, canSee: (app) => s.access.canSee(user, app) };
  };
  const name = (c: Context<ApiEnv>) => c.req.param('name')!;
  const id = (c: Context<ApiEnv>) => c.req.param('id')!;

  api.get('/:name/backups', (c) => c.json(s.backups.list(name(c), caller(c))));

  api.post('/:name/backups', async (c) => {
    c.set('auditDetail', `capture a backup of ${name(c).slice(0, 40)}`);
    const backup = await s.backups.capture(name(c), caller(c));
    c.set('auditDetail', `captured ${backup.id} of ${backup.addon} (${backup.size} bytes)`);
    return c.json(backup, 201);
  });

  api.put('/:name/backups/schedule', async (c) => {
    const body = await jsonBody(c);
    c.set('auditDetail', `schedule backups of ${name(c).slice(0, 40)}`);
    const schedule = s.backups.setSchedule(name(c), body, caller(c));
    c.set('auditDetail', schedule ? `backups of ${name(c)} daily at ${schedule.at} UTC, keeping ${schedule.keep}` : `backups of ${name(c)} unscheduled`);
    return c.json({ schedule });
  });

  api.get('/:name/backups/:id/download', async (c) => {
    const { backup, body } = await s.backups.download(name(c), id(c), caller(c));
    s.audit.record({ actor: c.get('user').name, action: 'GET /addons/:name/backups/:id/download', target: backup.addon, ip: clientAddress(c), status: 200, detail: `downloaded ${backup.id} of ${backup.addon}` });
    return new Response(Readable.toWeb(body) as ReadableStream, {
      headers: {
        'content-type': 'application/octet-stream', 'content-length': String(backup.size), [BACKUP_SHA256_HEADER]: backup.sha256!,
        'content-disposition': `attachment; filename="${backup.addon}-${backup.id}.dump"`, 'cache-control': 'no-store',
      },
    });
  });

  api.post('/:name/backups/:id/restore', async (c) => {
    const body = await jsonBody(c);
    c.set('auditDetail', `restore ${id(c).slice(0, 12)} into ${typeof body.to === 'string' ? `a new add-on ${body.to.slice(0, 40)}` : name(c).slice(0, 40)}`);
    return c.json(await s.backups.restore(name(c), id(c), body, caller(c)));
  });

  // backups:restore --from-file: the body is the dump; confirm, to and the file's sha256 come in the query.
  api.post('/:name/restore', async (c) => {
    const to = c.req.query('to');
    c.set('auditDetail', `restore an uploaded file into ${to ? `a new add-on ${to.slice(0, 40)}` : name(c).slice(0, 40)}`);
    const missing = () => new BerthError(400, 'dump_missing', 'Send the dump as the request body (berth backups:restore ADDON --from-file FILE).');
    // No size bound on a dump: a refused one is read as far as an accepted one would be.
    return c.json(await withUpload(c, Infinity, missing, (body) =>
      s.backups.restoreUpload(name(c), body, { confirm: c.req.query('confirm'), to, sha256: c.req.query('sha256') }, caller(c))));
  });
  return api;
}
