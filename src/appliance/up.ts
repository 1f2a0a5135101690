// `berth up`: brings Berth up on this machine from the one executable (Debian packages, dockerd, the
// registry, Caddy, the server's unit or daemon, the admin login), idempotently: every step prints
// "[ok] ..." when there was nothing to do and "[changed] ..." when it did something.
import { loadAppliance } from './load.ts';
import type { Appliance } from './settings.ts';
import { hasSystemd, runProgram } from './host.ts';
import { prepareDirs, runUpTasks, upTasks } from './up-tasks.ts';
import { serverEnv, serverLog } from './server-service.ts';

export async function runUp(self: string): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('[fail] run berth up as root (it installs packages and starts system services)\n');
    return 1;
  }
  const started = Date.now();
  const a = loadAppliance();
  prepareDirs(a);
  const summary = await runUpTasks(upTasks(a, self), (line) => (line.startsWith('[fail]') ? process.stderr : process.stdout).write(line));
  if (!summary.succeeded) return 1;

  const token = await issueAdminToken(a);
  if (token === null) return 1;
  const changes = summary.changed + (token ? 1 : 0);
  const took = Math.round((Date.now() - started) / 1000);
  process.stdout.write(changes === 0
    ? `[ok] nothing changed: Berth was already up (${took}s)\n`
    : `[done] ${changes} step(s) changed something (${took}s)\n`);
  process.stdout.write(nextSteps(a, token));
  return 0;
}

/**
 * The admin token is printed here, once: the server keeps only its hash. `issue-admin-token --if-none` prints
 * a new one only while the admin has none. '' when it has one; null on failure.
 */
async function issueAdminToken(a: Appliance): Promise<string | null> {
  const issued = await runProgram(a.executable, ['server', 'issue-admin-token', '--if-none'], { env: serverEnv(a), timeoutMs: 60_000 });
  if (issued.code !== 0) {
    process.stderr.write(`[fail] could not issue the admin token (berth server issue-admin-token): ${issued.stderr.trim()}\n`);
    return null;
  }
  const token = issued.stdout.trim();
  process.stdout.write(token ? '[changed] issued the admin token (printed below, once)\n' : '[ok] the admin already has a token\n');
  return token;
}

function nextSteps(a: Appliance, token: string): string {
  const newToken = `BERTH_DATA_DIR=${a.dataDir} ${a.executable} server issue-admin-token`;
  return `
Berth is up.
  API:   ${a.apiUrl}   (health: ${a.healthUrl}; on this machine only)
  TLS:   ${a.apiTlsUrl}   (the API, console and git through Caddy, for other machines)
  Keys:  back up ${a.dataDir}/secrets.key with berth.db: config values cannot be read without it
  Token: ${token || `(issued on the first run; a new one: sudo ${newToken})`}
  Logs:  ${hasSystemd() ? 'journalctl -u berth' : serverLog(a)}

Next:
  berth login --api ${a.apiUrl} --token ${token || 'TOKEN'}
  berth apps:create hello
  berth deploy hello --image berth-test/hello:latest
${token ? 'The token is shown only now: Berth keeps no copy. Revoke it with: berth tokens:revoke ID (see berth tokens).\n' : ''}`;
}
