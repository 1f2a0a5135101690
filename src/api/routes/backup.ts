// /admin/backup, /admin/restore, /admin/check (admins, admin-scoped tokens): Berth's own backup as a tar
// stream, its restore onto a new installation (streamed upload, verified whole before anything changes),
// and the integrity report. The work is in src/backup.
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { requireAdmin } from '../auth.ts';
import { clientAddress } from '../origin.ts';
import { withUpload } from '../upload.ts';
import type { Services } from '../services.ts';
import { BerthError } from '../../shared/errors.ts';

type RouteServices = Pick<Services, 'backup' | 'audit'>;

/** Streamed in, so the API's usual body limit does not apply (the archive reader's do). */
export const RESTORE_PATH = '/api/v1/admin/restore';
/** The old installation's key file travels base64-encoded in this header (a key file is well under 1 KB per key). */
export const SECRETS_KEY_HEADER = 'x-berth-secrets-key';
const MAX_KEY_HEADER = 16 * 1024;

export function backupRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  const service = () => {
    if (!s.backup) throw new BerthError(501, 'not_available', 'This server does not back itself up.');
    return s.backup;
  };

  api.get('/backup', (c) => {
    requireAdmin(c);
    const includeKey = ['1', 'true'].includes(c.req.query('include-key') ?? '');
    const { stream } = service().backup({ includeKey });
    // A GET is not on the audit trail by itself; a copy of everything is worth a line.
    s.audit.record({ actor: c.get('user').name, action: 'GET /admin/backup', ip: clientAddress(c), status: 200, detail: includeKey ? 'with the secrets key' : 'without the secrets key' });
    const name = `berth-backup-${new Date().toISOString().replace(/[:.]/g, '-')}.tar`;
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: { 'content-type': 'application/x-tar', 'content-disposition': `attachment; filename="${name}"`, 'cache-control': 'no-store' },
    });
  });

  api.post('/restore', async (c) => {
    requireAdmin(c);
    const encodedKey = c.req.header(SECRETS_KEY_HEADER) ?? null;
    if (encodedKey !== null && (encodedKey.length > MAX_KEY_HEADER || !/^[A-Za-z0-9+/=]+$/.test(encodedKey))) {
      throw new BerthError(400, 'invalid_key_file', `${SECRETS_KEY_HEADER} must be the key file's text in base64.`);
    }
    const backup = service();
    const missing = () => new BerthError(400, 'backup_missing', 'Send the backup archive as the request body (berth admin:restore FILE).');
    const result = await withUpload(c, backup.maxUploadBytes, missing, (body) =>
      backup.restore(body, encodedKey === null ? null : Buffer.from(encodedKey, 'base64').toString('utf8')));
    c.set('auditDetail', `backup of ${result.backup.createdAt}: ${result.apps.length} app(s), ${result.images} image(s), key from the ${result.keyFrom}`);
    return c.json(result);
  });

  api.get('/check', async (c) => {
    requireAdmin(c);
    return c.json(await service().check());
  });
  return api;
}
