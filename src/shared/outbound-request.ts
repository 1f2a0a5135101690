// Requests Berth makes on a user's behalf (alert webhooks), held to an OutboundPolicy. A URL is vetted when
// it is saved (its name resolved, every address checked), and every request is checked again where it
// dials: the socket's own `lookup` resolves and checks, so a name that answers 127.0.0.1 only after the
// first check (DNS rebinding) is caught with the address actually dialed, and the peer is checked once more
// when the socket connects. Redirects are never followed: a 3xx is the answer.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import type { OutboundPolicy } from './outbound-address.ts';

export interface ResolvedAddress { address: string; family: number }
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** The destination is one the policy refuses. `message` is safe to show its user; `detail` is for the server's log. */
export class OutboundRefusedError extends Error {
  readonly detail: string;
  constructor(message: string, detail: string) {
    super(message);
    this.name = 'OutboundRefusedError';
    this.detail = detail;
  }
}

export interface OutboundResponse { status: number; location: string | null }

export interface PostOptions { headers: Record<string, string>; timeoutMs: number }

export class OutboundGuard {
  readonly policy: OutboundPolicy;
  readonly #resolve: Resolver;

  constructor(policy: OutboundPolicy, resolve: Resolver = systemResolver) {
    this.policy = policy;
    this.#resolve = resolve;
  }

  /**
   * Resolves the URL's host and checks every address it has, for a URL about to be saved. An address typed
   * as such is named in the error; for a name the message does not tell "does not resolve" from "resolves
   * to an internal address", so the check cannot be used to map internal DNS.
   */
  async vet(url: URL): Promise<void> {
    const { host, port } = target(url);
    await this.allowedAddresses(host, port, 'alert webhooks');
  }

  /**
   * Every address `host` (a name, or an IP address without brackets) resolves to, when the policy allows
   * each of them on `port`; `what` names who may not reach them in the refusal. A caller that dials them
   * itself (git, pinned to them) gets no other chance for a rebinding name to answer differently.
   */
  async allowedAddresses(host: string, port: number, what: string): Promise<ResolvedAddress[]> {
    if (net.isIP(host)) {
      const verdict = this.policy.check(host, port);
      if (!verdict.allowed) throw new OutboundRefusedError(`${verdict.reason}, which ${what} may not reach`, verdict.reason);
      return [{ address: host, family: net.isIPv6(host) ? 6 : 4 }];
    }
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.#resolve(host);
    } catch (err) {
      throw new OutboundRefusedError(unresolvable(host, what), `${host}: ${(err as Error).message}`);
    }
    const refusal = this.#refusal(addresses, port);
    if (addresses.length === 0 || refusal) throw new OutboundRefusedError(unresolvable(host, what), `${host}: ${refusal ?? 'no address'}`);
    return addresses;
  }

  /** POSTs body to url, dialing only addresses the policy allows; the answer's body is read and dropped. */
  post(url: URL, body: string, opts: PostOptions): Promise<OutboundResponse> {
    const { host, port, secure } = target(url);
    if (net.isIP(host)) {
      const verdict = this.policy.check(host, port);
      if (!verdict.allowed) return Promise.reject(refusedAt(verdict.reason));
    }
    const lookup: LookupFunction = (hostname, options, callback) => {
      this.#resolve(hostname).then((found) => {
        const wanted = options.family === 4 || options.family === 6 ? found.filter((a) => a.family === options.family) : found;
        const refusal = this.#refusal(wanted, port);
        if (refusal) throw refusedAt(`${hostname}: ${refusal}`);
        if (wanted.length === 0) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
        if (options.all) callback(null, wanted);
        else callback(null, wanted[0].address, wanted[0].family);
      }).catch((err: NodeJS.ErrnoException) => callback(err, '', 0));
    };
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request({
        host, port, method: 'POST', path: `${url.pathname}${url.search}`, lookup, agent: false,
        headers: { ...opts.headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: AbortSignal.timeout(opts.timeoutMs),
      }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location ?? null }));
        res.on('error', reject);
      });
      // The address the socket really reached, whatever path led there.
      req.on('socket', (socket) => socket.once('connect', () => {
        const peer = socket.remoteAddress ?? '';
        const verdict = this.policy.check(peer, socket.remotePort ?? port);
        if (!verdict.allowed) req.destroy(refusedAt(`connected to ${verdict.reason}`));
      }));
      req.on('error', reject);
      req.end(body);
    });
  }

  #refusal(addresses: ResolvedAddress[], port: number): string | null {
    for (const { address } of addresses) {
      const verdict = this.policy.check(address, port);
      if (!verdict.allowed) return verdict.reason;
    }
    return null;
  }
}

/** The generic reason a delivery records: which internal address refused it is not the sender's business. */
export const REFUSED_AT_CONNECT = 'refused: the webhook address is not one alert webhooks may reach';

function refusedAt(detail: string): OutboundRefusedError {
  return new OutboundRefusedError(REFUSED_AT_CONNECT, detail);
}

const unresolvable = (host: string, what: string) =>
  `${host} does not resolve, or resolves to an address ${what} may not reach (loopback, private, link-local or Berth's own)`;

function target(url: URL): { host: string; port: number; secure: boolean } {
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') throw new OutboundRefusedError(`${url.protocol} URLs are not supported`, url.protocol);
  // WHATWG URL parsing already turned 2130706433, 0x7f000001 and 0177.0.0.1 into 127.0.0.1.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(url.port) || (secure ? 443 : 80), secure };
}
