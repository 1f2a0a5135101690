// /apps/:app/https: whether plain HTTP requests to the app's names are redirected to HTTPS (apps:https);
// /apps/:app/certs: the team's own certificate for the app's names instead of ACME (certs:add).
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { BerthError, badRequest, notFound } from '../../shared/errors.ts';
import { checkCertificate } from '../../shared/certificate-check.ts';
import type { AppCertificate, HttpsSettings } from '../../wire/types.ts';
import type { StoredCertificate } from '../../state/https-store.ts';

type RouteServices = Pick<Services, 'apps' | 'https' | 'deployer'>;

export function httpsRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/https', (c) => {
    const app = s.apps.get(c.req.param('app'));
    return c.json<HttpsSettings>({ redirect: httpsOf(s).settings.redirects(app.name) });
  });

  api.patch('/:app/https', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const { redirect } = await jsonBody(c);
    if (typeof redirect !== 'boolean') throw badRequest('invalid_https', 'Expected {"redirect": true|false}.');
    const https = httpsOf(s);
    const before = https.settings.redirects(app.name);
    https.settings.setRedirect(app.id, redirect);
    try {
      await https.refreshRedirect(app.name);
    } catch (err) {
      https.settings.setRedirect(app.id, before); // the router did not take it: keep saying what it does
      throw err;
    }
    return c.json<HttpsSettings>({ redirect });
  });

  api.get('/:app/certs', (c) => {
    const app = s.apps.get(c.req.param('app'));
    const cert = httpsOf(s).settings.certificate(app.name);
    return c.json<AppCertificate[]>(cert ? [certificateView(cert)] : []);
  });

  // One certificate per app; adding another replaces it (its names may differ).
  api.post('/:app/certs', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const body = await jsonBody(c);
    const checked = checkCertificate(body.certificate, body.key, s.deployer.hostnames(app));
    const https = httpsOf(s);
    const before = https.settings.certificate(app.name);
    https.settings.setCertificate(app.id, checked);
    try {
      await https.syncCertificates();
    } catch (err) {
      // Caddy refused it: the previous certificate stays the stored (and loaded) one.
      if (before) https.settings.restoreCertificate(app.id, before);
      else https.settings.removeCertificate(app.id);
      https.settings.pruneFiles(app.id);
      throw err;
    }
    https.settings.pruneFiles(app.id);
    return c.json<AppCertificate>(certificateView(https.settings.certificate(app.name)!), 201);
  });

  api.delete('/:app/certs', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const https = httpsOf(s);
    if (!https.settings.removeCertificate(app.id)) throw notFound(`The app "${app.name}" has no certificate of its own.`);
    await https.syncCertificates();
    https.settings.pruneFiles(app.id);
    return c.json({ deleted: app.name });
  });
  return api;
}

function certificateView(cert: StoredCertificate): AppCertificate {
  return { names: cert.names, expiresAt: cert.expiresAt, issuer: cert.issuer, fingerprint: cert.fingerprint, addedAt: cert.addedAt };
}

export function httpsOf(s: Pick<Services, 'https'>): NonNullable<Services['https']> {
  if (!s.https) throw new BerthError(501, 'https_unavailable', 'This Berth server does not manage HTTPS for apps.');
  return s.https;
}
