// Pure builders for real HTTPS: the ACME policy that gets public certificates for an app's names, the
// log Caddy reports certificate issuance in, and the per-app redirect of plain HTTP to HTTPS.
import path from 'node:path';
import type { CaddyRoute, TlsPolicy } from './config.ts';
import { isInternalHostname } from './config.ts';

export const ACME_TLS_POLICY_ID = 'berth-acme-tls';
export const CERTIFICATE_LOG_ID = 'berth_certificates';
const REDIRECT_ROUTE_PREFIX = 'berth-https-';

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

/** Where certificates come from for names that are not Caddy-internal (BERTH_ACME_CA, BERTH_ACME_EMAIL). */
export interface AcmeSettings {
  /** The CA's ACME directory URL. */
  ca: string;
  email?: string;
  /** PEM files of roots that sign the CA's own HTTPS certificate, when the system does not trust it (a test CA). */
  trustedRootsPemFiles?: string[];
}

export type AcmeTlsPolicy = TlsPolicy & { issuers: Array<Record<string, unknown> & { module: string }> };

/**
 * The policy for every name that needs a public certificate. Always with explicit subjects (a policy
 * without them would apply to every name); with no such names there is no policy at all. Not on demand:
 * Caddy gets each certificate when the name is configured and keeps retrying a failure with backoff,
 * which is what `berth domains` reports. The challenges come in on Berth's own listeners (whatever ports
 * they have: behind port forwarding the CA still connects to 80 and 443).
 */
export function buildAcmeTlsPolicy(names: string[], acme: AcmeSettings, ports: { httpPort: number; httpsPort: number }): AcmeTlsPolicy | null {
  if (names.length === 0) return null;
  return {
    '@id': ACME_TLS_POLICY_ID,
    subjects: [...new Set(names)].sort(),
    issuers: [{
      module: 'acme',
      ca: acme.ca,
      ...(acme.email ? { email: acme.email } : {}),
      ...(acme.trustedRootsPemFiles?.length ? { trusted_roots_pem_files: [...acme.trustedRootsPemFiles] } : {}),
      challenges: { http: { alternate_port: ports.httpPort }, 'tls-alpn': { alternate_port: ports.httpsPort } },
    }],
  };
}

/**
 * The names that get an ACME certificate: exact names Caddy's internal CA does not cover. Wildcards need
 * the DNS challenge (a DNS provider's credentials), which Berth does not configure.
 */
export function acmeNamesOf(hostnames: string[], internalTls = false): string[] {
  if (internalTls) return [];
  return [...new Set(hostnames.filter((h) => !isInternalHostname(h) && !h.startsWith('*.')))].sort();
}

/** Beside Caddy's own data (`berth up` keeps it in <data dir>/caddy), written by Caddy. */
export function certificateLogPath(dataDir: string): string {
  return path.join(dataDir, 'caddy', 'certificates.log');
}

/** Caddy's certificate manager logs to this file as JSON lines; src/router/caddy/certificate-status.ts reads it. */
export function buildCertificateLog(file: string): Record<string, unknown> {
  return {
    writer: { output: 'file', filename: file, roll_size_mb: 8, roll_keep: 1, roll_keep_days: 30 },
    encoder: { format: 'json' },
    include: ['tls.obtain', 'tls.renew'],
  };
}

export const redirectRouteId = (app: string): string => REDIRECT_ROUTE_PREFIX + app;
export const isRedirectRoute = (route: CaddyRoute): boolean => typeof route['@id'] === 'string' && route['@id'].startsWith(REDIRECT_ROUTE_PREFIX);

/**
 * Plain HTTP requests for these names get a 308 to the same URL over HTTPS. Caddy answers ACME HTTP
 * challenges before any route, so the redirect never stands in a renewal's way.
 */
export function buildRedirectRoute(app: string, names: string[], httpsPort: number): CaddyRoute | null {
  if (names.length === 0) return null;
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  return {
    '@id': redirectRouteId(app),
    match: [{ host: [...names].sort(), protocol: 'http' }],
    handle: [{ handler: 'static_response', status_code: 308, headers: { Location: [`https://{http.request.host}${port}{http.request.uri}`] } }],
    terminal: true,
  };
}

/** A team's own certificate for an app's names (certs:add): PEM files Caddy loads, tagged with the app. */
export interface CustomCertificate { app: string; certFile: string; keyFile: string }

const CUSTOM_CERT_TAG_PREFIX = 'berth-cert-';
export const customCertTag = (app: string): string => CUSTOM_CERT_TAG_PREFIX + app;

/**
 * tls.certificates.load_files entries. Caddy serves a loaded certificate for the names it covers and
 * leaves those names out of automatic HTTPS; Berth also leaves them out of the ACME policy.
 */
export function buildLoadFiles(certs: CustomCertificate[]): Array<Record<string, unknown>> {
  return [...certs].sort((a, b) => a.app.localeCompare(b.app))
    .map((c) => ({ certificate: c.certFile, key: c.keyFile, format: 'pem', tags: [customCertTag(c.app)] }));
}

/** The entries of other writers (no Berth tag), kept as they are. */
export function isBerthLoadFile(entry: { tags?: unknown }): boolean {
  return Array.isArray(entry.tags) && entry.tags.some((t) => typeof t === 'string' && t.startsWith(CUSTOM_CERT_TAG_PREFIX));
}
