// A git host for apps:connect tests: bare repositories under a temp dir served over HTTPS (git's smart
// HTTP through `git http-backend`) on loopback, with a self-signed certificate the test hands to Berth as
// an extra CA. Fetches must carry the access token (HTTP Basic password); /moved/* answers a redirect to
// the same repository under another host name (localhost), which git must not follow. Every request is recorded.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface GitHttpsServer {
  port: number;
  /** The certificate (its own CA): BERTH_BUILD_CA_FILE for Berth. */
  caFile: string;
  root: string;
  requests: { path: string; user: string | null; password: string | null }[];
  /** https://HOST:PORT/NAME.git */
  url(name: string, host?: string): string;
  /** A bare repository NAME.git made from a working repository's branches. */
  publish(name: string, workRepo: string): void;
  close(): Promise<void>;
}

export async function startGitHttpsServer(opts: { token: string }): Promise<GitHttpsServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-githost-'));
  const root = path.join(dir, 'repos');
  fs.mkdirSync(root);
  const keyFile = path.join(dir, 'key.pem');
  const caFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,DNS:git.example.test,IP:127.0.0.1', '-keyout', keyFile, '-out', caFile], { stdio: 'ignore' });
  const requests: GitHttpsServer['requests'] = [];
  const server = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(caFile) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user, password] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [null, null];
    requests.push({ path: url.pathname, user: user ?? null, password: password ?? null });
    if (url.pathname.startsWith('/moved/')) {
      res.writeHead(302, { location: `https://localhost:${port}${url.pathname.slice('/moved'.length)}${url.search}` }).end();
      return;
    }
    if (password !== opts.token) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test git host"' }).end('token required\n');
      return;
    }
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', PATH_INFO: url.pathname,
        REQUEST_METHOD: req.method ?? 'GET', QUERY_STRING: url.search.slice(1), CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['git-protocol'] ? { HTTP_GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) { res.write(chunk); return; }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString('utf8').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'status') status = Number(value.split(' ')[0]);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port, caFile, root, requests,
    url: (name, host = '127.0.0.1') => `https://${host}:${port}/${name}.git`,
    publish(name, workRepo) {
      const bare = path.join(root, `${name}.git`);
      if (!fs.existsSync(bare)) execFileSync('git', ['init', '-q', '--bare', bare]);
      execFileSync('git', ['-C', workRepo, 'push', '-q', '--force', bare, '--all'], { stdio: 'ignore' });
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      fs.rmSync(dir, { recursive: true, force: true });
    }),
  };
}
