// A kubelet node's certificates, kept in $BERTH_DATA_DIR/kubelet-nodes/NAME.json (0600, beside the cluster CA's
// key Berth already holds) so a re-run of hosts:add writes the same files and reports ok. They are signed anew when
// the kept ones no longer fit: another CA, another name or address, or less than 30 days left. hosts:remove
// forgets them.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { signNodeCredentials, type ClusterCa } from '../../../installer/kubelet/credentials.ts';
import type { NodeCredentials } from '../../../installer/kubelet/config.ts';

const RENEW_BEFORE_MS = 30 * 86_400_000;
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

const dirOf = (dataDir: string) => path.join(dataDir, 'kubelet-nodes');

function fileOf(dataDir: string, nodeName: string): string {
  if (!NAME.test(nodeName)) throw new Error(`node name ${JSON.stringify(nodeName)} must be lowercase DNS labels`);
  return path.join(dirOf(dataDir), `${nodeName}.json`);
}

/** true when `kept` is the node's and still good: signed by this CA, for this name and address, not about to expire. */
export function credentialsFit(kept: NodeCredentials, caPem: string, nodeName: string, nodeIp: string, now = Date.now()): boolean {
  try {
    const ca = new crypto.X509Certificate(caPem);
    const cert = new crypto.X509Certificate(kept.nodeCert);
    const proxy = new crypto.X509Certificate(kept.proxyCert);
    const sans = (cert.subjectAltName ?? '').split(', ');
    return kept.ca === caPem && [cert, proxy].every((c) => c.checkIssued(ca) && c.verify(ca.publicKey) && Date.parse(c.validTo) - now > RENEW_BEFORE_MS)
      && cert.subject.split('\n').includes(`CN=system:node:${nodeName}`) && sans.includes(`DNS:${nodeName}`) && sans.includes(`IP Address:${nodeIp}`)
      && crypto.createPublicKey(crypto.createPrivateKey(kept.nodeKey)).export({ format: 'pem', type: 'spki' }) === cert.publicKey.export({ format: 'pem', type: 'spki' });
  } catch {
    return false;
  }
}

/** The node's kept certificates when they fit, else new ones (kept for the next run). */
export async function nodeCredentials(dataDir: string, ca: ClusterCa, nodeName: string, nodeIp: string): Promise<NodeCredentials> {
  const file = fileOf(dataDir, nodeName);
  const caPem = fs.readFileSync(ca.certFile, 'utf8');
  try {
    const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as NodeCredentials;
    if (credentialsFit(kept, caPem, nodeName, nodeIp)) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
  }
  const signed = await signNodeCredentials(ca, nodeName, nodeIp);
  fs.mkdirSync(dirOf(dataDir), { recursive: true, mode: 0o700 });
  fs.writeFileSync(`${file}.new`, JSON.stringify(signed), { mode: 0o600 });
  fs.renameSync(`${file}.new`, file);
  return signed;
}

/** hosts:remove: the node's certificates are no longer kept. */
export function forgetNodeCredentials(dataDir: string, nodeName: string): void {
  if (NAME.test(nodeName)) fs.rmSync(fileOf(dataDir, nodeName), { force: true });
}
