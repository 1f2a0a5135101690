// Which TCP ports a container's processes listen on, read from /proc/net/tcp{,6} inside it: what a failed health
// check reports when the app never listened on $PORT ("it listens on 8080").
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { demuxInto } from './demux.ts';

const LISTEN = '0A';
/** 127.0.0.11, where Docker's embedded DNS listens inside containers on user-defined networks (little-endian hex). */
const DOCKER_DNS = '0B00007F:';
const PROBE_MS = 3000;

/** The listening ports in /proc/net/tcp or tcp6 text (local_address is HEXADDR:HEXPORT, st 0A is LISTEN), sorted. */
export function parseListeningPorts(text: string): number[] {
  const ports = new Set<number>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st ...; the header line has "local_address" in that place.
    if (fields.length < 4 || !/^\d+:$/.test(fields[0]) || fields[3].toUpperCase() !== LISTEN) continue;
    if (fields[1].startsWith(DOCKER_DNS)) continue; // the engine's own resolver in the container, not the app
    const port = Number.parseInt(fields[1].slice(fields[1].lastIndexOf(':') + 1), 16);
    if (Number.isInteger(port) && port > 0) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

/** null when it cannot be seen (the container stopped, has no `cat`, or the engine did not answer in time). */
export async function listeningPorts(docker: Docker, containerId: string): Promise<number[] | null> {
  try {
    const exec = await docker.getContainer(containerId).exec({
      Cmd: ['cat', '/proc/net/tcp', '/proc/net/tcp6'], AttachStdout: true, AttachStderr: false,
    });
    const stream = await exec.start({ hijack: true, stdin: false }) as unknown as Duplex;
    const text = await new Promise<string>((resolve, reject) => {
      let out = '';
      const stdout = { write: (chunk: Buffer) => { out += chunk.toString('utf8'); return true; }, once: () => stdout };
      const discard = { write: () => true, once: () => discard };
      demuxInto(stream, stdout, discard);
      const timer = setTimeout(() => { stream.destroy(); reject(new Error('timed out')); }, PROBE_MS);
      stream.once('end', () => { clearTimeout(timer); resolve(out); });
      stream.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
    return text.includes('local_address') ? parseListeningPorts(text) : null;
  } catch {
    return null;
  }
}
