// A TCP forwarder for tests: makes a loopback-only service (the test registry) reachable on one more
// address, e.g. this machine's gateway address on a test network, where test hosts connect.
import net from 'node:net';

export interface Forward { address: string; close(): Promise<void> }

export async function forwardTcp(listenHost: string, target: { host: string; port: number }): Promise<Forward> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `${listenHost}:${port}`,
    close: () => new Promise((resolve) => {
      sockets.forEach((s) => s.destroy());
      server.close(() => resolve());
    }),
  };
}
