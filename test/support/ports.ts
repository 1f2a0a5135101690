// Free ports for tests and benchmarks, taken below the kernel's ephemeral range: a port the kernel may
// hand to any outgoing connection (ssh to test hosts, docker, git) can be taken between the moment a
// test picks it and the moment Caddy binds it, which was seen to fail a run ("bind: address already in use").
import fs from 'node:fs';
import net from 'node:net';

// Below the test servers' instance port blocks (21000-28999, test/support/berth.ts).
const RANGE = { low: 10_000, high: 20_999 };
const MAX_TRIES = 500;
// Ports fetch() refuses to connect to (the Fetch standard's "bad ports"; 10080 is the one in RANGE): a server
// there looks down to every test that calls it with fetch.
const FETCH_BLOCKED = new Set([10_080]);

/** Distinct ports, each bound once on every interface (as Caddy binds) and released. */
export async function freePorts(count: number): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    for (let tries = 0; held.length < count && tries < MAX_TRIES; tries++) {
      const port = candidatePort();
      if (FETCH_BLOCKED.has(port)) continue;
      const server = await listenOn(port);
      if (server) held.push(server);
    }
    if (held.length < count) throw new Error(`no ${count} free port(s) found in ${MAX_TRIES} tries`);
    return held.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** A random port of RANGE, or 0 (the kernel's choice) where the ephemeral range reaches down into it. */
function candidatePort(): number {
  return ephemeralLow() > RANGE.high ? RANGE.low + Math.floor(Math.random() * (RANGE.high - RANGE.low + 1)) : 0;
}

let ephemeralLowCache: number | null = null;
function ephemeralLow(): number {
  if (ephemeralLowCache === null) {
    try {
      ephemeralLowCache = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    } catch {
      ephemeralLowCache = 0;
    }
  }
  return ephemeralLowCache;
}

function listenOn(port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
}
