// Checks a team's own certificate (certs:add) before Caddy gets it: it must parse, match its key, still
// be valid, and name only the app's own domains. Caddy serves a loaded certificate for every name in it,
// so a name of another team's (or one nobody claimed yet) would let this app answer HTTPS for it.
import { X509Certificate, createPrivateKey, createHash } from 'node:crypto';
import { badRequest, BerthError } from './errors.ts';

export const MAX_PEM_BYTES = 64 * 1024;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface CheckedCertificate {
  certificatePem: string;   // leaf first, then its chain
  keyPem: string;
  names: string[];          // its DNS names, lowercase
  expiresAt: string;
  issuer: string;
  fingerprint: string;      // SHA-256 of the leaf, hex
}

export function checkCertificate(certificate: unknown, key: unknown, appNames: string[], now = new Date()): CheckedCertificate {
  if (typeof certificate !== 'string' || typeof key !== 'string' || certificate.length > MAX_PEM_BYTES || key.length > MAX_PEM_BYTES) {
    throw badRequest('invalid_certificate', `Expected {"certificate": PEM, "key": PEM}, each at most ${MAX_PEM_BYTES} bytes.`);
  }
  const blocks = certificate.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0 || blocks.length > 10) throw badRequest('invalid_certificate', 'The certificate file must hold 1 to 10 PEM certificates, the site\'s own first.');
  let chain: X509Certificate[];
  try {
    chain = blocks.map((pem) => new X509Certificate(pem));
  } catch (err) {
    throw badRequest('invalid_certificate', `The certificate does not parse: ${(err as Error).message}.`);
  }
  const leaf = chain[0]!;
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw badRequest('invalid_key', `The key does not parse (an unencrypted PEM private key is needed): ${(err as Error).message}.`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw badRequest('invalid_key', 'The key does not belong to the certificate.');
  if (Date.parse(leaf.validTo) <= now.getTime()) throw badRequest('invalid_certificate', `The certificate expired on ${new Date(leaf.validTo).toISOString()}.`);
  const names = dnsNames(leaf);
  if (names.length === 0) throw badRequest('invalid_certificate', 'The certificate names no DNS name (subjectAltName).');
  const own = new Set(appNames.map((n) => n.toLowerCase()));
  const foreign = names.filter((n) => !own.has(n));
  if (foreign.length > 0) {
    throw new BerthError(403, 'certificate_names_not_allowed',
      `The certificate names ${foreign.join(', ')}, not a domain of this app: add each name with domains:add first (a certificate is served for every name in it).`);
  }
  return {
    certificatePem: `${blocks.join('\n')}\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    names,
    expiresAt: new Date(leaf.validTo).toISOString(),
    issuer: /(?:^|\n)CN=([^\n]+)/.exec(leaf.issuer)?.[1] ?? leaf.issuer.split('\n')[0] ?? '',
    fingerprint: createHash('sha256').update(leaf.raw).digest('hex'),
  };
}

/** "DNS:a.example.com, DNS:*.example.com, IP Address:..." → the DNS names, lowercase. */
function dnsNames(cert: X509Certificate): string[] {
  const names = (cert.subjectAltName ?? '').split(/,\s*/).filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4).toLowerCase());
  return [...new Set(names)].sort();
}
