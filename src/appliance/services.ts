// The configs and systemd units of the services `berth up` runs beside the server: the image registry
// and Caddy. Pure text: the tasks in up-tasks.ts compare it with what is on disk.
import path from 'node:path';
import type { Appliance } from './settings.ts';
import { REGISTRY_ADDR } from './settings.ts';

/** Beyond loopback anyone on that network could pull and delete every app's image: then it needs Berth's credential. */
export function registryNeedsAuth(a: Appliance): boolean {
  const choice = a.env.BERTH_REGISTRY_AUTH || 'auto';
  if (choice === 'on') return true;
  if (choice === 'off') return false;
  if (choice !== 'auto') throw new Error(`BERTH_REGISTRY_AUTH must be auto, on or off, not "${choice}"`);
  const listen = a.env.BERTH_REGISTRY_LISTEN || REGISTRY_ADDR;
  const colon = listen.lastIndexOf(':');
  const host = (colon < 0 ? listen : listen.slice(0, colon)).replace(/^\[|\]$/g, '');
  return !(host.startsWith('127.') || host === '::1' || host === 'localhost');
}

export const registryConfigFile = (a: Appliance) => path.join(a.etcDir, 'registry.yml');
export const registryHtpasswd = (a: Appliance) => path.join(a.etcDir, 'registry.htpasswd');
/** "/" on the address it listens on (loopback for "every address"): it answers without credentials (/v2/ wants them once auth is on). */
export function registryProbe(a: Appliance): string {
  const listen = a.env.BERTH_REGISTRY_LISTEN || REGISTRY_ADDR;
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, Math.max(colon, 0));
  const port = listen.slice(colon + 1);
  return `http://${['', '0.0.0.0', '[::]', '::'].includes(host) ? '127.0.0.1' : host}:${port}/`;
}
export const registryArgv = (a: Appliance) => ['/usr/bin/docker-registry', 'serve', registryConfigFile(a)];

/** CNCF distribution's config: images under the data dir, loopback unless other hosts pull, deletes allowed. */
export function registryConfig(a: Appliance): string {
  // The header names scripts/up.sh as it always has: an unchanged file never restarts a running registry.
  const lines = [
    "# Written by Berth's scripts/up.sh; rewritten on the next run.",
    'version: 0.1', 'log:', '  level: info', '  fields:', '    service: berth-registry',
    'storage:', '  filesystem:', `    rootdirectory: ${path.join(a.dataDir, 'registry')}`, '  delete:', '    enabled: true',
    '  cache:', '    blobdescriptor: inmemory',
    'http:', `  addr: ${a.env.BERTH_REGISTRY_LISTEN || REGISTRY_ADDR}`, '  headers:', '    X-Content-Type-Options: [nosniff]',
  ];
  if (registryNeedsAuth(a)) lines.push('auth:', '  htpasswd:', '    realm: berth-registry', `    path: ${registryHtpasswd(a)}`);
  return `${lines.join('\n')}\n`;
}

export function registryUnit(a: Appliance): string {
  return `[Unit]
Description=Berth image registry (${REGISTRY_ADDR})
After=network.target

[Service]
ExecStart=${registryArgv(a).join(' ')}
Restart=on-failure

[Install]
WantedBy=multi-user.target
`;
}

export const caddyConfigFile = (a: Appliance) => path.join(a.etcDir, 'caddy.json');
export const caddyHome = (a: Appliance) => path.join(a.dataDir, 'caddy');
export const caddyAdminListen = (a: Appliance) => `unix/${a.caddyAdminSock}`;
export const caddyAdminProbe = (a: Appliance) => `unix:${a.caddyAdminSock}:/config/`;
/** Caddy saves every config it is given here and --resume starts from it, so a restarted Caddy keeps serving the apps. */
export const caddyAutosave = (a: Appliance) => path.join(caddyHome(a), 'config/caddy/autosave.json');
export const caddyEnv = (a: Appliance) => [`XDG_DATA_HOME=${caddyHome(a)}/data`, `XDG_CONFIG_HOME=${caddyHome(a)}/config`];
export const caddyArgv = (a: Appliance) => ['/usr/bin/caddy', 'run', '--resume', '--config', caddyConfigFile(a)];

/** Only the admin endpoint (on a root-only socket): the server adds its routes through the admin API. */
export function caddyConfig(a: Appliance): string {
  return `{\n  "admin": { "listen": "${caddyAdminListen(a)}" }\n}\n`;
}

/** An autosave from an install whose admin API was on TCP 127.0.0.1:2019, moved to the socket (routes untouched); null when it is there. */
export function movedAutosave(autosaveText: string, listen: string): string | null {
  const config = JSON.parse(autosaveText) as { admin?: { listen?: string } };
  if (config.admin?.listen === listen) return null;
  return JSON.stringify({ ...config, admin: { ...config.admin, listen } });
}

export function caddyUnit(a: Appliance): string {
  return `[Unit]
Description=Berth router (Caddy, admin API on ${a.caddyAdminSock})
After=network.target

[Service]
Environment=${caddyEnv(a).join(' ')}
ExecStartPre=/bin/mkdir -p -m 0700 ${a.runDir}
ExecStart=${caddyArgv(a).join(' ')}
Restart=always
RestartSec=1
LimitNOFILE=1048576
AmbientCapabilities=CAP_NET_BIND_SERVICE

[Install]
WantedBy=multi-user.target
`;
}
