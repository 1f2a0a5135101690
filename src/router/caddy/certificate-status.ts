// Where each name's certificate stands, from two things Caddy shows: the certificate it serves for the
// name (a TLS handshake with that SNI on its HTTPS listener, which gives the expiry), and otherwise the
// last event its certificate manager logged for the name (the certificate log, tls-config.ts).
import { open } from 'node:fs/promises';
import tls from 'node:tls';
import type { CertificateStatus } from '../../wire/types.ts';

export type { CertificateStatus };

export interface CertificateEvent {
  kind: 'obtaining' | 'issued' | 'failed';
  at: number;            // ms
  reason?: string;
  retryAt?: number;      // ms
}

export interface ServedCertificate { expiresAt: string; issuer: string }

/** The last event per name in Caddy's certificate log lines (tls.obtain and tls.renew; see buildCertificateLog). */
export function certificateEvents(lines: string[]): Map<string, CertificateEvent> {
  const last = new Map<string, CertificateEvent>();
  for (const line of lines) {
    let entry: { msg?: unknown; ts?: unknown; identifier?: unknown; error?: unknown; retrying_in?: unknown };
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // a line cut by a roll
    }
    const at = typeof entry.ts === 'number' ? entry.ts * 1000 : 0;
    const error = typeof entry.error === 'string' ? entry.error : '';
    if (entry.msg === 'will retry') {
      // No identifier field: the error starts with "[name] Obtain: ...". The reason came just before it.
      const name = /^\[([^\]\s]+)\]/.exec(error)?.[1];
      const seen = name ? last.get(name) : undefined;
      if (name && seen?.kind === 'failed' && typeof entry.retrying_in === 'number') seen.retryAt = at + entry.retrying_in * 1000;
      continue;
    }
    if (typeof entry.identifier !== 'string') continue;
    const kind = EVENT_KINDS[String(entry.msg)];
    if (kind) last.set(entry.identifier, { kind, at, ...(kind === 'failed' ? { reason: error } : {}) });
  }
  return last;
}

const EVENT_KINDS: Record<string, CertificateEvent['kind']> = {
  'obtaining certificate': 'obtaining',
  'renewing certificate': 'obtaining',
  'certificate obtained successfully': 'issued',
  'certificate renewed successfully': 'issued',
  'could not get certificate from issuer': 'failed',
};

/** What Caddy serves wins; without it, a failure is reported with Caddy's reason, anything else is pending. */
export function statusOf(served: ServedCertificate | null, event: CertificateEvent | undefined): CertificateStatus {
  if (served) return { state: 'issued', expiresAt: served.expiresAt, issuer: served.issuer };
  if (event?.kind === 'failed') {
    return { state: 'failed', reason: event.reason ?? '', ...(event.retryAt ? { retryAt: new Date(event.retryAt).toISOString() } : {}) };
  }
  return { state: 'pending' };
}

export interface StatusOptions {
  host: string;                 // where Caddy's HTTPS listener answers
  httpsPort: number;
  logFile: string | null;
  acmeNames: Set<string>;       // names with a publicly issued certificate
  customNames: Set<string>;     // names a team's own certificate covers (certs:add); the others are Caddy-internal
}

export async function certificateStatuses(hostnames: string[], opts: StatusOptions): Promise<CertificateStatus[]> {
  const events = opts.logFile ? certificateEvents(await readTailLines(opts.logFile)) : new Map<string, CertificateEvent>();
  return Promise.all(hostnames.map(async (name): Promise<CertificateStatus> => {
    if (opts.acmeNames.has(name)) return statusOf(await servedCertificate(opts.host, opts.httpsPort, name), events.get(name));
    if (opts.customNames.has(name)) {
      const served = await servedCertificate(opts.host, opts.httpsPort, name);
      return served ? { state: 'custom', ...served } : { state: 'pending' };
    }
    if (name.startsWith('*.') && !name.endsWith('.localhost')) {
      return { state: 'none', reason: 'a wildcard needs the ACME DNS challenge, which Berth does not configure' };
    }
    return { state: 'internal', issuer: 'Caddy internal CA' };
  }));
}

const PROBE_TIMEOUT_MS = 3000;

/** The certificate Caddy presents for `name`, if it is valid for that name; null when it has none. */
export function servedCertificate(host: string, port: number, name: string): Promise<ServedCertificate | null> {
  return new Promise((resolve) => {
    // Only reading what is presented: trust is the client's business, the name match is checked below.
    const socket = tls.connect({ host, port, servername: name, rejectUnauthorized: false, timeout: PROBE_TIMEOUT_MS }, () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      const matches = cert?.valid_to && tls.checkServerIdentity(name, cert) === undefined;
      resolve(matches ? { expiresAt: new Date(cert.valid_to).toISOString(), issuer: issuerName(cert.issuer) } : null);
    });
    socket.once('error', () => resolve(null));
    socket.once('timeout', () => { socket.destroy(); resolve(null); });
  });
}

function issuerName(issuer: tls.Certificate | undefined): string {
  const pick = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return pick(issuer?.CN) ?? pick(issuer?.O) ?? 'unknown';
}

const TAIL_BYTES = 1024 * 1024;

/** The log's last MiB as lines (Caddy rolls it at 8 MiB); none when Caddy has not written it yet. */
async function readTailLines(file: string): Promise<string[]> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return [];
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString('utf8').split('\n');
    return start > 0 ? lines.slice(1) : lines;
  } finally {
    await handle.close();
  }
}
