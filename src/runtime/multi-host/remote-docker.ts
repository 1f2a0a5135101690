// A Docker API client for a remote host, over SSH with Berth's own key: docker-modem opens an SSH
// session per request and runs `docker system dial-stdio` on the host. The host key must match the one
// the installer pinned in Berth's known_hosts, so the channel cannot be redirected to another machine.
import fs from 'node:fs';
import Docker from 'dockerode';
import { knownHostKeys } from '../../../installer/ssh.ts';

export interface RemoteEngine {
  address: string;
  sshUser: string;
  sshPort: number;
  keyFile: string;
  knownHostsFile: string;
}

const SSH_READY_TIMEOUT_MS = 5_000;

export function remoteDocker(engine: RemoteEngine): Docker {
  const privateKey = fs.readFileSync(engine.keyFile);
  return new Docker({
    protocol: 'ssh', host: engine.address, port: engine.sshPort, username: engine.sshUser,
    sshOptions: {
      privateKey,
      readyTimeout: SSH_READY_TIMEOUT_MS,
      // Read on every connection: hosts:add may pin a key after this client was made.
      hostVerifier: (key: Buffer) => knownHostKeys(engine.knownHostsFile, engine.address, engine.sshPort).some((k) => k.equals(key)),
    },
  } as Docker.DockerOptions);
}
