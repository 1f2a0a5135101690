// Free loopback ports for tests and benchmarks: whatever the kernel hands out for port 0.
import net from 'node:net';

/**
 * Ports the kernel hands out for port 0, held together so they are distinct. Caddy binds with
 * SO_REUSEPORT, so a port another process grabbed before Caddy binds it would be shared silently;
 * the kernel's random choice makes that unlikely.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listenOnFreePort()));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

function listenOnFreePort(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
