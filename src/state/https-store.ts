// Per-app HTTPS settings: whether plain HTTP is redirected to HTTPS (apps:https), and the team's own
// certificate (certs:add). The certificate and key themselves are files Caddy loads (mode 0600, in
// Berth's data dir); the database keeps what `berth certs` shows.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { Db } from './db.ts';
import { now } from './db.ts';
import type { CheckedCertificate } from '../shared/certificate-check.ts';
import type { CustomCertificate } from '../router/caddy/tls-config.ts';

export interface StoredCertificate {
  appId: number;
  app: string;
  names: string[];
  expiresAt: string;
  issuer: string;
  fingerprint: string;
  addedAt: string;
}

interface CertificateRow { app_id: number; app: string; names: string; expires_at: string; issuer: string; fingerprint: string; added_at: string }

export class HttpsStore {
  private readonly sql: Database.Database;
  private readonly certDir: string;
  /** certDir: where certificate and key files go (Caddy reads them from there). */
  constructor(db: Db, certDir: string) {
    this.sql = db.$client;
    this.certDir = certDir;
  }

  /** Off until the team turns it on: a name whose certificate is still pending keeps answering on HTTP. */
  redirects(appName: string): boolean {
    const row = this.sql.prepare('SELECT h.redirect AS redirect FROM app_https h JOIN apps a ON a.id = h.app_id WHERE a.name = ?')
      .get(appName) as { redirect: number } | undefined;
    return row?.redirect === 1;
  }

  setRedirect(appId: number, on: boolean): void {
    this.sql.prepare(`INSERT INTO app_https (app_id, redirect) VALUES (?, ?)
      ON CONFLICT (app_id) DO UPDATE SET redirect = excluded.redirect`).run(appId, on ? 1 : 0);
  }

  certificate(appName: string): StoredCertificate | null {
    return this.certificates().find((c) => c.app === appName) ?? null;
  }

  certificates(): StoredCertificate[] {
    const rows = this.sql.prepare(`SELECT c.app_id, a.name AS app, c.names, c.expires_at, c.issuer, c.fingerprint, c.added_at
      FROM app_certificates c JOIN apps a ON a.id = c.app_id ORDER BY a.name`).all() as CertificateRow[];
    return rows.map((r) => ({ appId: r.app_id, app: r.app, names: JSON.parse(r.names) as string[], expiresAt: r.expires_at, issuer: r.issuer, fingerprint: r.fingerprint, addedAt: r.added_at }));
  }

  /** The files Caddy loads, with the names each covers (CaddyRouter's customCertificates). */
  loadedCertificates(): Array<CustomCertificate & { names: string[] }> {
    return this.certificates().map((c) => ({ app: c.app, names: c.names, ...this.filesOf(c.appId, c.fingerprint) }));
  }

  /** Writes the files first (named by fingerprint, so Caddy sees a changed config and loads them), then the row. */
  setCertificate(appId: number, cert: CheckedCertificate): void {
    const files = this.filesOf(appId, cert.fingerprint);
    fs.mkdirSync(path.dirname(files.certFile), { recursive: true, mode: 0o700 });
    fs.writeFileSync(files.certFile, cert.certificatePem, { mode: 0o600 });
    fs.writeFileSync(files.keyFile, cert.keyPem, { mode: 0o600 });
    this.saveRow(appId, { names: cert.names, expiresAt: cert.expiresAt, issuer: cert.issuer, fingerprint: cert.fingerprint, addedAt: now() });
  }

  /** Puts back what certificate() returned earlier (its files are still there: pruneFiles keeps the current one's). */
  restoreCertificate(appId: number, previous: StoredCertificate): void {
    this.saveRow(appId, previous);
  }

  private saveRow(appId: number, c: Omit<StoredCertificate, 'app' | 'appId'>): void {
    this.sql.prepare(`INSERT INTO app_certificates (app_id, names, expires_at, issuer, fingerprint, added_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (app_id) DO UPDATE SET names = excluded.names, expires_at = excluded.expires_at, issuer = excluded.issuer,
        fingerprint = excluded.fingerprint, added_at = excluded.added_at`)
      .run(appId, JSON.stringify(c.names), c.expiresAt, c.issuer, c.fingerprint, c.addedAt);
  }

  removeCertificate(appId: number): boolean {
    return this.sql.prepare('DELETE FROM app_certificates WHERE app_id = ?').run(appId).changes > 0;
  }

  /** Deletes an app's files other than its current certificate's (after Caddy switched to it), or all of them. */
  pruneFiles(appId: number): void {
    const keep = this.certificates().find((c) => c.appId === appId)?.fingerprint;
    const dir = path.join(this.certDir, String(appId));
    for (const file of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (!keep || !file.startsWith(`${keep}.`)) fs.rmSync(path.join(dir, file), { force: true });
    }
  }

  /** By app id, so a renamed app's certificate stays where Caddy loads it from. */
  private filesOf(appId: number, fingerprint: string): { certFile: string; keyFile: string } {
    const dir = path.join(this.certDir, String(appId));
    return { certFile: path.join(dir, `${fingerprint}.crt`), keyFile: path.join(dir, `${fingerprint}.key`) };
  }
}
