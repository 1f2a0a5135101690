// A node's certificates, signed on Berth's machine with the cluster CA's key (never copied to the node):
// the kubelet's (CN system:node:NAME, O system:nodes, as the Node authorizer and NodeRestriction want;
// also its serving certificate, for the node's name and IP) and kube-proxy's (CN system:kube-proxy).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { NodeCredentials } from './config.ts';

const exec = promisify(execFile);
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

export interface ClusterCa { certFile: string; keyFile: string }

export async function signNodeCredentials(ca: ClusterCa, nodeName: string, nodeIp: string, days = 365): Promise<NodeCredentials> {
  if (!NAME.test(nodeName)) throw new Error(`node name ${JSON.stringify(nodeName)} must be lowercase DNS labels`);
  if (!net.isIPv4(nodeIp)) throw new Error(`node IP ${JSON.stringify(nodeIp)} is not an IPv4 address`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-node-pki-'));
  const openssl = (args: string[]) => exec('openssl', args, { cwd: dir, timeout: 30_000 });
  const sign = async (name: string, subject: string, ext: string[]) => {
    await openssl(['genrsa', '-out', `${name}.key`, '2048']);
    await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ...ext, ''].join('\n'));
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`,
      '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
    return { cert: fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8'), key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8') };
  };
  try {
    const node = await sign('node', `/CN=system:node:${nodeName}/O=system:nodes`,
      ['extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=DNS:${nodeName},IP:${nodeIp}`]);
    const proxy = await sign('proxy', '/CN=system:kube-proxy', ['extendedKeyUsage=clientAuth']);
    return { ca: fs.readFileSync(ca.certFile, 'utf8'), nodeCert: node.cert, nodeKey: node.key, proxyCert: proxy.cert, proxyKey: proxy.key };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
