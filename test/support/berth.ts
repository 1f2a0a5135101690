// Starts a real Berth server (the bundle scripts/test.sh builds, else the sources) for a test, against the real dockerd and a private Caddy.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import { stopAddressBookDaemon } from '../../src/router/dnsmasq/address-book.ts';
import { testNetworkSubnet } from './network.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
/**
 * The server every test starts: scripts/test.sh builds the shipped bundle first and names it in
 * BERTH_TEST_SERVER_ENTRY (a start costs a third of a start from sources, and the tests run what users run);
 * without it, the sources.
 */
export const SERVER_ENTRY = process.env.BERTH_TEST_SERVER_ENTRY || path.join(ROOT, 'src/server/main.ts');

export interface CaddyPorts { adminUrl: string; httpPort: number; httpsPort: number }

export interface ApiResult<T = any> { status: number; body: T }

/** How long a test server (or issue-admin-token) may take to start before the test fails. */
const START_TIMEOUT_MS = 180_000;
const runningServers = new Set<ChildProcess>();
process.once('exit', () => runningServers.forEach((child) => child.kill('SIGKILL')));

export class BerthServer {
  readonly dataDir: string;
  readonly port: number;
  readonly env: Record<string, string>;
  token = '';
  output = '';
  private child: ChildProcess | null = null;

  constructor(dataDir: string, port: number, env: Record<string, string>) {
    this.dataDir = dataDir;
    this.port = port;
    this.env = env;
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [SERVER_ENTRY], {
      env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d) => { this.output += d; });
    child.stderr!.on('data', (d) => { this.output += d; });
    // A file whose test failed before its after() could kill the server must still end (a running server
    // held it open, and the whole suite with it): the server does not keep this process alive, and goes with it.
    child.unref();
    (child.stdout as unknown as { unref(): void }).unref();
    (child.stderr as unknown as { unref(): void }).unref();
    runningServers.add(child);
    child.once('exit', () => runningServers.delete(child));
    // Generous: on a machine shared by several test runs (load 20-40 on 2 cores) a start from sources took 60+ s.
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`berth server exited (${child.exitCode}):\n${this.output}`);
      try {
        const res = await fetch(`${this.url}/api/v1/health`);
        if (res.ok) break;
      } catch { /* not up yet */ }
      await sleep(100);
    }
    if (Date.now() >= deadline) throw new Error(`berth server did not answer in ${START_TIMEOUT_MS / 1000} s:\n${this.output}`);
    this.token ||= await issueAdminToken(SERVER_ENTRY, this.env);
  }

  /** Ends the server the way a crash or `kill -9` would: no cleanup at all. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.ref(); // waited for: this process stays until it has exited
    child.kill(signal);
    await exited;
  }

  async api<T = any>(method: string, route: string, body?: unknown, token: string | null = this.token): Promise<ApiResult<T>> {
    const res = await fetch(`${this.url}/api/v1${route}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any = text;
    try { parsed = JSON.parse(text); } catch { /* streamed or plain text */ }
    return { status: res.status, body: parsed };
  }

  /** Like api(), but fails the test with the server's answer when the status is not the expected one. */
  async ok<T = any>(method: string, route: string, body?: unknown, expected = [200, 201]): Promise<T> {
    const res = await this.api<T>(method, route, body);
    if (!expected.includes(res.status)) {
      throw new Error(`${method} ${route} → ${res.status} ${JSON.stringify(res.body)}\n--- server output ---\n${this.output.slice(-4000)}`);
    }
    return res.body;
  }
}

/**
 * A fresh admin token, the way an operator gets one: `node <server entry> issue-admin-token` on the
 * server machine, with the server's environment (its data dir). Nothing is read from a file.
 * `server` is the server's entry file (run with this Node), or the whole argv that starts it (`[dist/berth, server]`).
 */
export function issueAdminToken(server: string | string[], env: Record<string, string>): Promise<string> {
  const [program, ...args] = typeof server === 'string' ? [process.execPath, server] : server;
  return new Promise((resolve, reject) => {
    execFile(program, [...args, 'issue-admin-token'], { env: { ...process.env, ...env }, timeout: START_TIMEOUT_MS }, (err, stdout, stderr) => {
      const token = stdout.trim();
      if (err || !/^berth_\S+$/.test(token)) reject(new Error(`issue-admin-token failed: ${err?.message ?? ''}\n${stdout}${stderr}`));
      else resolve(token);
    });
  });
}

/** Each test server's app DNS (dnsmasq) outlives the server, as in production; it goes when the test process ends. */
const appDnsDirs: string[] = [];
process.on('exit', () => appDnsDirs.forEach(stopAddressBookDaemon));

/** A private app DNS for one server: its own port, and a directory outside the (0700) data dir, readable by dnsmasq. */
export async function appDnsEnv(): Promise<{ BERTH_DNS_PORT: string; BERTH_DNS_DIR: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dns-'));
  fs.chmodSync(dir, 0o755);
  appDnsDirs.push(dir);
  return { BERTH_DNS_PORT: String(await freePort()), BERTH_DNS_DIR: dir };
}

export async function startBerth(caddy: CaddyPorts, extraEnv: Record<string, string> = {}): Promise<BerthServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
  const env = {
    BERTH_DATA_DIR: dataDir,
    BERTH_API_HOST: '127.0.0.1',
    BERTH_CADDY_ADMIN: caddy.adminUrl,
    BERTH_HTTP_PORT: String(caddy.httpPort),
    BERTH_HTTPS_PORT: String(caddy.httpsPort),
    BERTH_DOMAIN: 'localhost',
    BERTH_DRAIN_SECONDS: '1',
    ...(await appDnsEnv()),
    BERTH_STOP_TIMEOUT: '2',
    BERTH_HEALTH_TIMEOUT: '20',
    // Custom domains get ACME certificates: never from Let's Encrypt in a test (tests reach loopback only).
    // A closed loopback port fails at once; the HTTPS tests pass their own pebble.
    BERTH_ACME_CA: 'https://127.0.0.1:9/directory',
    // Each test server gets its own block of host ports, so servers running side by side never race for one.
    BERTH_PORT_RANGE: portBlock(),
    // and its own subnet for Berth's network (several installations share the test engine).
    ...(extraEnv.BERTH_NETWORK_SUBNET ? {} : { BERTH_NETWORK_SUBNET: testNetworkSubnet() }),
    ...extraEnv,
  };
  // A free port can still be taken by a test running beside this one before the server binds it: then the
  // server exits at once with EADDRINUSE, and it starts again (same data dir) on another port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = new BerthServer(dataDir, port, { ...env, BERTH_API_PORT: String(port) });
    try {
      await server.start();
      return server;
    } catch (err) {
      if (attempt < 3 && server.output.includes(`EADDRINUSE: address already in use 127.0.0.1:${port}`)) continue;
      throw err;
    }
  }
}

export function portBlock(): string {
  const start = 21000 + Math.floor(Math.random() * 16) * 500;
  return `${start}-${start + 499}`;
}

/**
 * GET through the router: Caddy picks the app by Host header, exactly as a browser's request would.
 * A connection reset before any response byte is retried once: Caddy 2.6 hands its listening socket over
 * on every config reload and may reset a connection caught in between (docs/benchmarks.md). Any answer,
 * 5xx included, is returned as it is.
 */
export function viaRouter(httpPort: number, host: string, route = '/'): Promise<{ status: number; body: string }> {
  return getOnce(httpPort, host, route).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET' || err.message === 'socket hang up') return getOnce(httpPort, host, route);
    throw err;
  });
}

function getOnce(httpPort: number, host: string, route: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: route, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => reject(new Error(`response broke off: ${err.message}`)));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls until check() returns a value, within a bounded time. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) { last = err; }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const uniqueName = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
export const TEST_IMAGE = 'berth-test/hello:latest';
