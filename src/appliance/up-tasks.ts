// The steps of `berth up`, in the installer's task model (installer/task.ts): each checks whether this
// machine is already as wanted and changes it only when not, so a second run reports every step [ok].
// The same packages, files, units, pid files and services as scripts/up.sh made before the executable.
import fs from 'node:fs';
import path from 'node:path';
import { runTasks, type RunSummary, type Task, type TaskContext, type TaskReport } from '../../installer/task.ts';
import type { Appliance } from './settings.ts';
import { REGISTRY_ADDR } from './settings.ts';
import {
  hasSystemd, livePid, processArgv, readPid, replaceFileAtomically, runProgram, startDaemon, terminatePid, urlOk, waitUntil, writeIfChanged,
} from './host.ts';
import * as services from './services.ts';
import { serverEnv, serverLogHint, serverStaleness, startServer, stopServer, waitForServer } from './server-service.ts';
import { sameFile } from './same-file.ts';

/** A task that can say what it changed ("started dockerd") where the runner only knows its name. */
export interface UpTask extends Task { done?: string }

// ssh: hosts:add; chromium: the web console tests; dnsmasq: the app DNS; pebble: the ACME CA the HTTPS tests run (never as a service).
export const APT_PACKAGES = ['docker.io', 'caddy', 'docker-registry', 'git', 'debootstrap', 'ca-certificates', 'curl', 'openssh-client', 'chromium', 'dnsmasq-base', 'pebble'];

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

async function dpkgInstalled(pkg: string): Promise<boolean> {
  const shown = await runProgram('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', pkg]);
  return shown.code === 0 && shown.stdout.startsWith('ii');
}

async function missingPackages(): Promise<string[]> {
  const installed = await Promise.all(APT_PACKAGES.map(dpkgInstalled));
  return APT_PACKAGES.filter((_, i) => !installed[i]);
}

/**
 * Debian's packages start their services from postinst (caddy on :80, docker-registry on :5000) with the
 * distribution's configs; Berth runs its own, so a policy-rc.d that says "don't start services" is in place
 * while apt installs, unless the machine has one already.
 */
async function aptInstall(a: Appliance, packages: string[]): Promise<void> {
  const log = path.join(a.logDir, 'apt.log');
  const held = !fs.existsSync(POLICY_RC_D);
  if (held) fs.writeFileSync(POLICY_RC_D, '#!/bin/sh\n# Temporary, from `berth up`: no service starts during apt-get install.\nexit 101\n', { mode: 0o755 });
  const removeHold = () => { if (held) fs.rmSync(POLICY_RC_D, { force: true }); };
  // Left behind, it would keep every later package on this machine from starting its service.
  process.once('SIGINT', removeHold).once('SIGTERM', removeHold);
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update', '-q'], ['install', '-y', '-q', ...packages]]) {
      const result = await runProgram('apt-get', args, { env, timeoutMs: 1_800_000 });
      fs.appendFileSync(log, `$ apt-get ${args.join(' ')}\n${result.stdout}${result.stderr}`);
      if (result.code !== 0) throw new Error(`apt-get ${args.join(' ')} failed (log: ${log}):\n${tail(result.stdout + result.stderr)}`);
    }
  } finally {
    removeHold();
    process.off('SIGINT', removeHold).off('SIGTERM', removeHold);
  }
}

const tail = (text: string, lines = 30) => text.trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');

function packagesTask(a: Appliance): UpTask {
  const task: UpTask = {
    name: `packages installed (${APT_PACKAGES.join(' ')})`,
    check: async () => (await missingPackages()).length === 0,
    async apply() {
      const missing = await missingPackages();
      process.stdout.write(`      installing ${missing.join(' ')} (apt-get, log in ${path.join(a.logDir, 'apt.log')})\n`);
      await aptInstall(a, missing);
      task.done = `installed ${missing.join(' ')}`;
    },
  };
  return task;
}

async function unitOn(unit: string): Promise<boolean> {
  const enabled = await runProgram('systemctl', ['is-enabled', '--quiet', unit]);
  const active = await runProgram('systemctl', ['is-active', '--quiet', unit]);
  return enabled.code === 0 || active.code === 0;
}

/** With systemd, the distribution's caddy and docker-registry units would take Berth's ports with the wrong config. */
function distroUnitsTask(): UpTask {
  const units = ['caddy.service', 'docker-registry.service'];
  const task: UpTask = {
    name: "the distribution's caddy and docker-registry units are off (Berth runs its own)",
    check: async () => !(await Promise.all(units.map(unitOn))).some(Boolean),
    async apply() {
      for (const unit of units) if (await unitOn(unit)) await runProgram('systemctl', ['disable', '--now', unit]);
      task.done = "disabled the distribution's caddy and docker-registry units (Berth runs its own)";
    },
  };
  return task;
}

const dockerOk = async (a: Appliance) => (await runProgram(a.docker, ['info'], { timeoutMs: 20_000 })).code === 0;

/** A Docker engine that answers: docker.service with systemd, else dockerd as a daemon scripts/down.sh can stop. */
function dockerdTask(a: Appliance): UpTask {
  const task: UpTask = {
    name: 'dockerd running',
    check: () => dockerOk(a),
    async apply() {
      if (!fs.existsSync(a.docker)) throw new Error(`${a.docker} not found (the docker.io package installs it)`);
      if (hasSystemd()) {
        await runProgram('systemctl', ['enable', '--now', 'docker']);
      } else {
        // A dockerd killed hard leaves its pid file behind and refuses to start while it exists.
        const stale = readPid('/var/run/docker.pid');
        if (stale !== null && processArgv(stale) === null) fs.rmSync('/var/run/docker.pid', { force: true });
        startDaemon(path.join(a.runDir, 'dockerd.pid'), path.join(a.logDir, 'dockerd.log'), ['dockerd']);
      }
      // dockerd needs a few seconds on first start (iptables, its containerd).
      if (!(await waitUntil(120, () => dockerOk(a)))) throw new Error(`dockerd did not answer within 60 s (${hasSystemd() ? 'journalctl -u docker' : path.join(a.logDir, 'dockerd.log')})`);
      task.done = 'started dockerd';
    },
  };
  return task;
}

/** Berth pushes to its registry over plain HTTP: dockerd allows that for 127.0.0.0/8 unless configured otherwise. */
function insecureRegistryTask(a: Appliance): UpTask {
  const daemonJson = '/etc/docker/daemon.json';
  const listed = () => {
    try { return (JSON.parse(fs.readFileSync(daemonJson, 'utf8'))['insecure-registries'] ?? []).includes(REGISTRY_ADDR); } catch { return false; }
  };
  const task: UpTask = {
    name: `dockerd accepts the plain-HTTP registry ${REGISTRY_ADDR} (127.0.0.0/8 is insecure by default)`,
    async check() {
      const info = await runProgram(a.docker, ['info', '--format', '{{json .RegistryConfig.InsecureRegistryCIDRs}}']);
      return info.stdout.includes('"127.0.0.0/8"') || listed();
    },
    async apply() {
      const conf = fs.existsSync(daemonJson) ? JSON.parse(fs.readFileSync(daemonJson, 'utf8')) : {};
      conf['insecure-registries'] = [...new Set([...(conf['insecure-registries'] ?? []), REGISTRY_ADDR])];
      writeIfChanged(daemonJson, `${JSON.stringify(conf, null, 2)}\n`);
      // Restarting dockerd would stop every running app, so that is left to the operator.
      task.done = `added ${REGISTRY_ADDR} to insecure-registries in ${daemonJson} (restart dockerd when convenient so it reads it)`;
    },
  };
  return task;
}

/** The CLI on PATH and the program the server's unit runs: a copy of this executable. */
function executableTask(a: Appliance, self: string): UpTask {
  const task: UpTask = {
    name: `${a.executable} is this berth`,
    check: async () => self === a.executable || sameFile(self, a.executable),
    async apply() {
      // Renamed into place: a running server or CLI keeps the file it started from.
      replaceFileAtomically(self, a.executable);
      task.done = `installed ${a.executable}`;
    },
  };
  return task;
}

/** What must restart a running service because this run changed its config (a reason, or absent). */
interface Restarts { registry?: string; caddy?: string }

function registryConfigTask(a: Appliance, restarts: Restarts): UpTask {
  const file = services.registryConfigFile(a);
  const htpasswdNeeded = () => services.registryNeedsAuth(a) && !fs.existsSync(services.registryHtpasswd(a));
  const task: UpTask = {
    name: `${file} current`,
    check: async () => !htpasswdNeeded() && readText(file) === services.registryConfig(a),
    async apply() {
      fs.mkdirSync(path.join(a.dataDir, 'registry'), { recursive: true });
      const credential = htpasswdNeeded();
      if (credential) {
        // The server makes Berth's registry credential once (data dir, 0600) and writes its bcrypt line for the registry.
        const made = await runProgram(a.executable, ['server', 'registry-auth', services.registryHtpasswd(a)], { env: serverEnv(a) });
        if (made.code !== 0) throw new Error(`could not make the registry's credential: ${made.stderr.trim()}`);
      }
      writeIfChanged(file, services.registryConfig(a));
      restarts.registry = 'new config';
      task.done = credential ? `wrote ${services.registryHtpasswd(a)} (Berth's registry credential) and ${file}` : `wrote ${file}`;
    },
  };
  return task;
}

function caddyConfigTask(a: Appliance, restarts: Restarts): UpTask {
  const file = services.caddyConfigFile(a);
  const autosave = services.caddyAutosave(a);
  const autosaveMoved = () => (fs.existsSync(autosave) ? services.movedAutosave(fs.readFileSync(autosave, 'utf8'), services.caddyAdminListen(a)) : null);
  const task: UpTask = {
    name: `${file} current`,
    check: async () => readText(file) === services.caddyConfig(a) && autosaveMoved() === null,
    async apply() {
      for (const dir of ['data', 'config']) fs.mkdirSync(path.join(services.caddyHome(a), dir), { recursive: true });
      // The initial config counts only while there is no autosave, so a change to it never restarts a Caddy
      // that serves apps; moving its admin API (an install from before kept TCP 2019 in the autosave) does.
      writeIfChanged(file, services.caddyConfig(a));
      const moved = autosaveMoved();
      if (moved !== null) {
        writeIfChanged(autosave, moved, 0o600);
        restarts.caddy = `admin API moved to ${a.caddyAdminSock}`;
      }
      task.done = moved !== null ? `wrote ${file}; ${autosave}: admin API moved to ${a.caddyAdminSock}` : `wrote ${file}`;
    },
  };
  return task;
}

interface ServiceSpec {
  label: string;
  unit: string;
  unitText: string;
  probe: string;
  pidWord: string;
  argv: string[];
  restartFor: () => string | undefined;
  clearRestart: () => void;
}

/** A long-running service: a systemd unit, or a daemon with a pid file; restarted only for a reason this run made. */
function serviceTask(a: Appliance, spec: ServiceSpec): UpTask {
  const unitFile = `/etc/systemd/system/${spec.unit}.service`;
  const pidfile = path.join(a.runDir, `${spec.label}.pid`);
  const log = path.join(a.logDir, `${spec.label}.log`);
  const task: UpTask = {
    name: hasSystemd() ? `${spec.unit} running (systemd)` : `${spec.label} running (${spec.probe} answers)`,
    async check() {
      if (spec.restartFor()) return false;
      if (hasSystemd() && (readText(unitFile) !== spec.unitText || (await runProgram('systemctl', ['is-active', '--quiet', spec.unit])).code !== 0)) return false;
      return urlOk(spec.probe);
    },
    async apply() {
      const reason = spec.restartFor();
      if (hasSystemd()) {
        if (writeIfChanged(unitFile, spec.unitText)) await runProgram('systemctl', ['daemon-reload']);
        const active = (await runProgram('systemctl', ['is-active', '--quiet', spec.unit])).code === 0;
        await runProgram('systemctl', ['enable', spec.unit]);
        await runProgram('systemctl', [active ? 'restart' : 'start', spec.unit]);
        task.done = active ? `restarted ${spec.unit} (systemd) for the ${reason ?? 'new unit file'}` : `started ${spec.unit} (systemd)`;
      } else {
        const ours = livePid(pidfile, [spec.pidWord]);
        let replaced = false;
        if (await urlOk(spec.probe)) {
          if (!ours) {
            process.stderr.write(`[warn] ${spec.label}: something Berth did not start answers ${spec.probe}; its new config is not applied\n`);
            task.done = `${spec.label}: left what answers ${spec.probe} as it is`;
            spec.clearRestart();
            return;
          }
          replaced = await terminatePid(pidfile, [spec.pidWord]);
        } else if (ours) {
          // Started by an earlier run but not answering: give it a moment, then replace it.
          if (await waitUntil(20, () => urlOk(spec.probe))) { spec.clearRestart(); return; }
          await terminatePid(pidfile, [spec.pidWord]);
        }
        startDaemon(pidfile, log, spec.argv);
        task.done = `${replaced ? `restarted ${spec.label} for the ${reason}` : `started ${spec.label}`} (log ${log})`;
      }
      spec.clearRestart();
      const settled = await waitUntil(120, async () => (await urlOk(spec.probe)) || (!hasSystemd() && !livePid(pidfile, [spec.pidWord])));
      if (!settled || !(await urlOk(spec.probe))) throw new Error(`${spec.label} did not come up: ${spec.probe} does not answer (${hasSystemd() ? `journalctl -u ${spec.unit}` : log})`);
    },
  };
  return task;
}

function registryTask(a: Appliance, restarts: Restarts): UpTask {
  return serviceTask(a, {
    label: 'registry', unit: 'berth-registry', unitText: services.registryUnit(a), probe: services.registryProbe(a),
    pidWord: services.registryConfigFile(a), argv: services.registryArgv(a),
    restartFor: () => restarts.registry, clearRestart: () => { delete restarts.registry; },
  });
}

function caddyTask(a: Appliance, restarts: Restarts): UpTask {
  return serviceTask(a, {
    label: 'caddy', unit: 'berth-caddy', unitText: services.caddyUnit(a), probe: services.caddyAdminProbe(a),
    pidWord: services.caddyConfigFile(a),
    // Under `berth supervise`: started again whenever it exits, as systemd's Restart=always would.
    argv: [a.executable, 'supervise', 'env', ...services.caddyEnv(a), ...services.caddyArgv(a)],
    restartFor: () => restarts.caddy, clearRestart: () => { delete restarts.caddy; },
  });
}

/** berth.env: the server's settings (systemd's EnvironmentFile reads the same file). */
function serverEnvTask(a: Appliance): UpTask {
  const task: UpTask = {
    name: `${a.envFile} current`,
    check: async () => readText(a.envFile) === a.serverEnvText,
    async apply() {
      writeIfChanged(a.envFile, a.serverEnvText, 0o600);
      task.done = `wrote ${a.envFile}`;
    },
  };
  return task;
}

function serverTask(a: Appliance): UpTask {
  const task: UpTask = {
    name: hasSystemd() ? 'berth running (systemd)' : `Berth server running (${a.healthUrl} answers)`,
    check: async () => (await serverStaleness(a)) === null,
    async apply() {
      const why = await serverStaleness(a);
      if (why === 'foreign') throw new Error(`something Berth did not start answers ${a.healthUrl}: stop it, or set BERTH_API_PORT`);
      const running = why !== 'not running';
      if (running) await stopServer(a);
      await startServer(a);
      if (!(await waitForServer(a, null))) throw new Error(`the Berth server does not answer ${a.healthUrl} (${serverLogHint(a)})`);
      task.done = running ? `restarted the Berth server (${why})` : `started the Berth server (${serverLogHint(a)})`;
    },
  };
  return task;
}

function readText(file: string): string | null {
  try { return fs.readFileSync(file, 'utf8'); } catch { return null; }
}

/** The registry's config and the registry itself: a config this run changed restarts a registry Berth started. */
export function registryTasks(a: Appliance): UpTask[] {
  const restarts: Restarts = {};
  return [registryConfigTask(a, restarts), registryTask(a, restarts)];
}

/** Caddy's config and Caddy itself: only moving its admin API restarts a Caddy that serves apps. */
export function caddyTasks(a: Appliance): UpTask[] {
  const restarts: Restarts = {};
  return [caddyConfigTask(a, restarts), caddyTask(a, restarts)];
}

/** Every step of `berth up`, in order; self is the executable running it. */
export function upTasks(a: Appliance, self: string): UpTask[] {
  return [
    packagesTask(a),
    ...(hasSystemd() ? [distroUnitsTask()] : []),
    dockerdTask(a),
    insecureRegistryTask(a),
    executableTask(a, self),
    ...registryTasks(a),
    ...caddyTasks(a),
    serverEnvTask(a),
    serverTask(a),
  ];
}

/** The folders `berth up` writes to. The run dir holds Caddy's admin socket: root's alone (whoever reaches it controls the router). */
export function prepareDirs(a: Appliance): void {
  for (const dir of [a.logDir, a.etcDir, a.dataDir]) fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(a.runDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(a.runDir, 0o700);
}

/** The tasks do their own work on this machine; the installer's shell runner is not used here. */
const LOCAL: TaskContext = {
  host: 'localhost',
  vars: {},
  checkOnly: false,
  run: () => Promise.reject(new Error('berth up runs no shell commands')),
};

/** Runs the tasks in order (stopping at a failure), writing one "[ok] ..." / "[changed] ..." / "[fail] ..." line each. */
export function runUpTasks(tasks: UpTask[], write: (line: string) => void): Promise<RunSummary> {
  const byName = new Map(tasks.map((task) => [task.name, task] as [string, UpTask]));
  return runTasks(tasks, LOCAL, (line: TaskReport) => write(reportLine(line, byName.get(line.task))));
}

function reportLine(line: TaskReport, task: UpTask | undefined): string {
  if (line.status === 'ok') return `[ok] ${line.task}\n`;
  if (line.status === 'changed') return `[changed] ${task?.done ?? line.task}\n`;
  return `[fail] ${line.task}\n${(line.detail ?? '').replace(/^/gm, '    ')}\n`;
}
