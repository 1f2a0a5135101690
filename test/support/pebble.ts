// Runs a private ACME CA for tests: Debian's pebble (scripts/up.sh installs it) with pebble-challtestsrv as
// its DNS, every name answering 127.0.0.1, so pebble validates challenges against the test's own Caddy.
// All on loopback, all state in a temp dir; never a system service.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from './ports.ts';
import { stopChild, waitUntilAnswers } from './child-service.ts';

export interface TestPebble {
  /** The ACME directory, e.g. https://127.0.0.1:14000/dir (BERTH_ACME_CA). */
  directoryUrl: string;
  /** PEM of the certificate pebble's own HTTPS listener uses (BERTH_ACME_CA_ROOTS: Caddy must trust it). */
  listenerCaFile: string;
  /** PEM of the root pebble signs certificates with (for curl --cacert); pebble makes a new one each start. */
  issuingRootFile: string;
  /** Makes DNS lookups of `host` fail (SERVFAIL): the CA cannot validate it, like a name not pointing here. */
  failDns(host: string): Promise<void>;
  logFile: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

/** `target`: where pebble validates challenges (the test Caddy's HTTP and HTTPS ports on 127.0.0.1). */
export async function startPebble(target: { httpPort: number; httpsPort: number }): Promise<TestPebble> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-pebble-'));
  const [acmePort, managementPort, dnsPort, challengeManagementPort] = await freePorts(4);
  const listenerCaFile = path.join(dir, 'listener.pem');
  const keyFile = path.join(dir, 'listener-key.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=berth test pebble', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', listenerCaFile,
  ]);
  const configFile = path.join(dir, 'pebble.json');
  await writeFile(configFile, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: listenerCaFile, privateKey: keyFile,
      httpPort: target.httpPort, tlsPort: target.httpsPort, ocspResponderURL: '', externalAccountBindingRequired: false,
    },
  }));
  const logFile = path.join(dir, 'pebble.log');
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const dns = launch('pebble-challtestsrv', [
      '-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${challengeManagementPort}`,
      '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
    ], logFile, {});
    children.push(dns);
    const management = `http://127.0.0.1:${challengeManagementPort}`;
    // Any answer means it listens (its management API has no status page).
    await waitUntilAnswers(dns, 'pebble-challtestsrv', management, 50, () => fetch(management, { signal: AbortSignal.timeout(1000) }).then((r) => r.arrayBuffer()));
    // No random waits or refused nonces: the test is about Berth, not about an ACME client's retries.
    const pebble = launch('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], logFile,
      { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
    children.push(pebble);
    const ca = await readFile(listenerCaFile);
    const rootUrl = `https://127.0.0.1:${managementPort}/roots/0`;
    let root = '';
    await waitUntilAnswers(pebble, 'pebble', rootUrl, 50, async () => { root = await getText(rootUrl, ca); });
    const issuingRootFile = path.join(dir, 'issuing-root.pem');
    await writeFile(issuingRootFile, root);
    return {
      directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
      listenerCaFile,
      issuingRootFile,
      failDns: (host) => post(`${management}/set-servfail`, { host }),
      logFile,
      stop,
    };
  } catch (err) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await stop();
    throw new Error(`${(err as Error).message}\n--- pebble log (tail) ---\n${log.split('\n').slice(-20).join('\n')}`);
  }
}

function launch(command: string, args: string[], logFile: string, env: Record<string, string>): ChildProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

async function post(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status}`);
}

function getText(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}
