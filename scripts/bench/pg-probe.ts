// "Accepts connections", measured the same way for Berth's add-on and for a container run by hand: a Postgres
// startup message over TCP; the server asking for authentication ('R') means it takes connections, an error
// ('E', e.g. 57P03 "the database system is starting up") or a refused/closed socket means not yet.
import net from 'node:net';

function startupMessage(user: string, database: string): Buffer {
  const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + params.length, 0);
  head.writeInt32BE(196608, 4); // protocol 3.0
  return Buffer.concat([head, params]);
}

/** True when Postgres at host:port answered a startup message with an authentication request. */
export function acceptsConnections(host: string, port: number, user: string, database: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(startupMessage(user, database)));
    socket.once('data', (data) => done(data[0] === 0x52)); // 'R'
    socket.once('end', () => done(false));
  });
}
