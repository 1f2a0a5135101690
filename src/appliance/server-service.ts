// The Berth server as a service of this machine: a systemd unit running the installed executable, or
// (no systemd: containers, CI) a daemon with a pid file in the run dir. `berth up` and `berth upgrade`
// start, stop and check it through here.
import fs from 'node:fs';
import path from 'node:path';
import type { Appliance } from './settings.ts';
import { parseEnvFile } from './settings.ts';
import { hasSystemd, livePid, processArgv, readPid, runProgram, startDaemon, terminatePid, urlOk, waitUntil, writeIfChanged } from './host.ts';

/** What the server's command line contains: the installed executable's `server`, or an older install's bundle. */
export const serverPidWords = (a: Appliance) => [`${a.executable} server`, 'dist/berth-server.mjs'];

export const serverPidFile = (a: Appliance) => path.join(a.runDir, 'server.pid');
export const serverLog = (a: Appliance) => path.join(a.logDir, 'server.log');
/** A copy of the settings the running server was started with: a change to berth.env restarts it. */
export const startedEnvFile = (a: Appliance) => path.join(a.runDir, 'server.env');

export function serverUnit(a: Appliance): string {
  return `[Unit]
Description=Berth server (API on port ${a.env.BERTH_API_PORT})
After=network.target docker.service berth-registry.service berth-caddy.service
Wants=docker.service berth-registry.service berth-caddy.service

[Service]
EnvironmentFile=${a.envFile}
WorkingDirectory=${a.dataDir}
ExecStart=${a.executable} server
Restart=on-failure
RestartSec=2
# The app DNS (dnsmasq) the server starts must outlive a restart of the server, as the apps do.
KillMode=process

[Install]
WantedBy=multi-user.target
`;
}

const unitFile = (name: string) => `/etc/systemd/system/${name}.service`;

/** The running server's pid (the unit's main process, or the pid file's), or null. */
async function serverPid(a: Appliance): Promise<number | null> {
  if (!hasSystemd()) return livePid(serverPidFile(a), serverPidWords(a));
  return unitMainPid();
}

async function unitMainPid(): Promise<number | null> {
  const shown = await runProgram('systemctl', ['show', '-p', 'MainPID', '--value', 'berth']);
  const pid = Number(shown.stdout.trim());
  return pid > 0 ? pid : null;
}

/** Why the running server is not the one wanted (null: it is): not running, another program, old settings. */
export async function serverStaleness(a: Appliance): Promise<string | null> {
  if (hasSystemd()) {
    if (!fs.existsSync(unitFile('berth')) || fs.readFileSync(unitFile('berth'), 'utf8') !== serverUnit(a)) return 'a new unit file';
  }
  const pid = await serverPid(a);
  if (!pid) return (await urlOk(a.healthUrl)) ? 'foreign' : 'not running';
  let exe = '';
  try { exe = fs.readlinkSync(`/proc/${pid}/exe`); } catch { /* gone */ }
  // A replaced executable shows as "PATH (deleted)": the server still runs the old build.
  if (exe !== a.executable) return exe.endsWith(' (deleted)') ? 'a new executable' : 'it ran another program';
  let started = '';
  try { started = fs.readFileSync(startedEnvFile(a), 'utf8'); } catch { /* never recorded */ }
  if (started !== a.serverEnvText) return 'new settings';
  return (await urlOk(a.healthUrl)) ? null : 'it did not answer';
}

export async function stopServer(a: Appliance): Promise<void> {
  if (hasSystemd()) await runProgram('systemctl', ['stop', 'berth']);
  else await terminatePid(serverPidFile(a), serverPidWords(a), 40);
}

/** The server's own environment: base (this process's), with berth.env's settings over it. */
export const serverEnv = (a: Appliance, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => ({ ...base, ...parseEnvFile(a.serverEnvText) });

/** Starts the installed executable's server (the unit, or a daemon) and records the settings it got. */
export async function startServer(a: Appliance, base: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (hasSystemd()) {
    if (writeIfChanged(unitFile('berth'), serverUnit(a))) await runProgram('systemctl', ['daemon-reload']);
    await runProgram('systemctl', ['enable', 'berth']);
    const started = await runProgram('systemctl', ['start', 'berth']);
    if (started.code !== 0) throw new Error(`systemctl start berth: ${started.stderr.trim()}`);
  } else {
    startDaemon(serverPidFile(a), serverLog(a), [a.executable, 'server'], serverEnv(a, base));
  }
  writeIfChanged(startedEnvFile(a), a.serverEnvText, 0o600);
}

/**
 * Waits (up to `tries` half-seconds) for the health route to answer with `version` from a live server;
 * false as soon as the server has exited (no point waiting for a corpse).
 */
export async function waitForServer(a: Appliance, version: string | null, tries = 120): Promise<boolean> {
  let healthy = false;
  await waitUntil(tries, async () => {
    if (!(await startedProcessLives(a))) return true;
    healthy = await answersVersion(a.healthUrl, version);
    return healthy;
  });
  return healthy && (await startedProcessLives(a));
}

/** Whether the process just started still runs (by pid alone: until it execs, its command line is its parent's). */
async function startedProcessLives(a: Appliance): Promise<boolean> {
  if (hasSystemd()) return (await unitMainPid()) !== null;
  const pid = readPid(serverPidFile(a));
  return pid !== null && processArgv(pid) !== null;
}

async function answersVersion(url: string, version: string | null): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { version?: string };
    return version === null || body.version === version;
  } catch {
    return false;
  }
}

/** Where to look when the server would not come up. */
export function serverLogHint(a: Appliance): string {
  return hasSystemd() ? 'journalctl -u berth -n 40' : `tail -n 40 ${serverLog(a)}`;
}
