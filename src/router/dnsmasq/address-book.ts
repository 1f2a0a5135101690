// Stable per-app upstreams for the Docker scheduler: Caddy routes each app to a DNS name
// (`APP.berth.internal`, dynamic upstreams, refreshed every 100 ms) that a private dnsmasq answers from a
// hosts file Berth rewrites. A release swaps the addresses behind the name and writes nothing to Caddy, so
// there is no Caddy reload per deploy. dnsmasq runs detached from Berth, so apps keep resolving (and
// serving) while Berth restarts; Berth respawns it if it dies.
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * How often Caddy asks again (its dynamic upstreams' refresh); old instances must drain longer than this. A
 * release waits this long for Caddy to see the new addresses, so it is short: a lookup is one local UDP query,
 * made only when a request for the app comes after the last answer aged this much (an idle app costs nothing).
 */
export const DNS_REFRESH_MS = 100;
/**
 * From dnsmasq answering an app's new addresses until every new request through Caddy goes there: its refresh,
 * and slack for a lookup answered just before the change that Caddy stamps (and keeps) a moment later.
 */
export const DNS_SWITCH_MS = DNS_REFRESH_MS + 50;
const SUPERVISE_MS = 2000;
/** dnsmasq re-reads the file on SIGHUP asynchronously: Berth asks until it answers with the new set. */
const CONFIRM_TIMEOUT_MS = 2000;
const CONFIRM_POLL_MS = 10;
const NAME_SUFFIX = 'berth.internal';

export interface AddressBookOptions {
  /** Holds the hosts file and dnsmasq's pid file; made readable for dnsmasq, which drops root for nobody. */
  dir: string;
  /** UDP port on 127.0.0.1 (BERTH_DNS_PORT). */
  port: number;
  log: (line: string) => void;
  binary?: string;
}

export class AddressBook {
  readonly resolver: string;
  private readonly opts: AddressBookOptions;
  private readonly hostsFile: string;
  private readonly pidFile: string;
  private readonly entries = new Map<string, string[]>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(opts: AddressBookOptions) {
    this.opts = opts;
    this.resolver = `127.0.0.1:${opts.port}`;
    this.hostsFile = path.join(opts.dir, 'hosts');
    this.pidFile = path.join(opts.dir, 'dnsmasq.pid');
  }

  /**
   * Starts dnsmasq unless the one from an earlier run still answers for this directory, and keeps it running.
   * Returns null when dnsmasq cannot run here (not installed, port taken): routes then list instances instead.
   */
  static async open(opts: AddressBookOptions): Promise<AddressBook | null> {
    const book = new AddressBook(opts);
    try {
      await book.start();
      return book;
    } catch (err) {
      opts.log(`app DNS (dnsmasq on 127.0.0.1:${opts.port}) is not available, routes list instance addresses instead: ${(err as Error).message}`);
      return null;
    }
  }

  nameOf(app: string): string {
    return `${app}.${NAME_SUFFIX}`;
  }

  /**
   * The addresses behind the app's name; the change is live in dnsmasq when this resolves. True when it replaced
   * other addresses, which Caddy may still hold for up to DNS_REFRESH_MS.
   */
  async set(app: string, addresses: string[]): Promise<boolean> {
    const sorted = [...addresses].sort();
    const current = this.entries.get(app);
    if (current && current.length === sorted.length && current.every((a, i) => a === sorted[i])) {
      await this.writing;
      return false;
    }
    if (sorted.length) this.entries.set(app, sorted); else this.entries.delete(app);
    await this.publish(app);
    return current !== undefined;
  }

  remove(app: string): Promise<void> {
    if (!this.entries.has(app)) return this.writing;
    this.entries.delete(app);
    return this.publish(app);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async start(): Promise<void> {
    fs.mkdirSync(this.opts.dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(this.opts.dir, 0o755);
    this.load();
    this.writeFile();
    if (this.runningPid() === null) await this.spawn();
    else this.signal();
    this.timer = setInterval(() => {
      if (this.runningPid() !== null) return;
      this.opts.log('app DNS: dnsmasq is gone; starting it again');
      this.spawn().catch((err) => this.opts.log(`app DNS: could not restart dnsmasq: ${(err as Error).message}`));
    }, SUPERVISE_MS);
    this.timer.unref();
  }

  /** The file is the truth across restarts: entries of apps that still run keep resolving meanwhile. */
  private load(): void {
    if (!fs.existsSync(this.hostsFile)) return;
    for (const line of fs.readFileSync(this.hostsFile, 'utf8').split('\n')) {
      const [address, name] = line.trim().split(/\s+/);
      if (!address || !name?.endsWith(`.${NAME_SUFFIX}`)) continue;
      const app = name.slice(0, -NAME_SUFFIX.length - 1);
      this.entries.set(app, [...(this.entries.get(app) ?? []), address].sort());
    }
  }

  private publish(app: string): Promise<void> {
    const wanted = this.entries.get(app) ?? [];
    this.writing = this.writing.then(async () => {
      this.writeFile();
      this.signal();
      await this.confirm(app, wanted);
    });
    return this.writing;
  }

  /** Waits until dnsmasq answers `wanted` for the app (bounded; a slow daemon is logged, not fatal). */
  private async confirm(app: string, wanted: string[]): Promise<void> {
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([this.resolver]);
    const deadline = Date.now() + CONFIRM_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const answer = await resolver.resolve4(this.nameOf(app)).then((a) => a.sort(), () => [] as string[]);
      if (answer.length === wanted.length && answer.every((a, i) => a === wanted[i])) return;
      await new Promise((r) => setTimeout(r, CONFIRM_POLL_MS));
    }
    this.opts.log(`app DNS: dnsmasq did not answer the new addresses of ${app} within ${CONFIRM_TIMEOUT_MS} ms`);
  }

  /** Written whole and renamed into place, so dnsmasq never reads half a file. */
  private writeFile(): void {
    const lines = [...this.entries].flatMap(([app, addresses]) => addresses.map((a) => `${a} ${this.nameOf(app)}`));
    const tmp = `${this.hostsFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o644 });
    fs.renameSync(tmp, this.hostsFile);
  }

  /** SIGHUP: dnsmasq re-reads the hosts file and drops its cache. */
  private signal(): void {
    const pid = this.runningPid();
    if (pid !== null) process.kill(pid, 'SIGHUP');
  }

  private runningPid(): number | null {
    let pid: number;
    try {
      pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
    } catch {
      return null;
    }
    if (!Number.isInteger(pid) || pid <= 1) return null;
    try {
      // A reused pid must be dnsmasq with our pid file, not whatever took the number.
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes(this.pidFile) ? pid : null;
    } catch {
      return null;
    }
  }

  /** dnsmasq daemonizes itself once it has bound its port, so a port clash fails here, named. */
  private async spawn(): Promise<void> {
    await run(this.opts.binary ?? 'dnsmasq', [
      `--port=${this.opts.port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--no-poll',
      `--addn-hosts=${this.hostsFile}`, `--pid-file=${this.pidFile}`, '--local-ttl=0',
    ], { timeout: 10_000 });
  }
}

/** Stops the dnsmasq of a data directory's address book (tests, `down.sh`); nothing when none runs. */
export function stopAddressBookDaemon(dir: string): void {
  const pidFile = path.join(dir, 'dnsmasq.pid');
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(pidFile)) process.kill(pid, 'SIGTERM');
  } catch { /* not running */ }
}
