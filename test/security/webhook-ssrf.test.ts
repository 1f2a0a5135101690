// Issue 14, hole 1: alert webhooks as a way into the platform (SSRF). A member points webhooks at Caddy's
// admin API, Berth's own API, cloud metadata, private ranges and loopback spelled every way, a name that
// resolves to loopback, an allowed receiver that redirects to loopback, and a name that rebinds to loopback
// after it was checked; a rule saved while its address was allowed is refused at delivery. Against a real
// Berth server, Caddy and app; then Caddy still routes, and its admin API listens on no TCP port. Last, the
// Caddy that `berth up` runs: admin API on a unix socket, started again (berth supervise) whenever it exits.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startCaddy, type TestCaddy } from '../support/caddy.ts';
import { startBerth, viaRouter, eventually, sleep, uniqueName, TEST_IMAGE, type BerthServer } from '../support/berth.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook.ts';
import { freePort } from '../support/ports.ts';
import { CaddyAdminClient } from '../../src/router/caddy/admin-client.ts';
import { loadAppliance } from '../../src/appliance/load.ts';
import { caddyTasks, prepareDirs, runUpTasks } from '../../src/appliance/up-tasks.ts';
import { OutboundPolicy, parseAllowList } from '../../src/shared/outbound-address.ts';
import { OutboundGuard, OutboundRefusedError, REFUSED_AT_CONNECT, type Resolver } from '../../src/shared/outbound-request.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** TCP ports a process listens on, from /proc (its socket inodes matched against /proc/net/tcp{,6}). */
function listeningTcpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const link = (() => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } })();
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]);
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[3] === '0A' && inodes.has(cols[9])) ports.add(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

const refusesConnection = (port: number) => new Promise<boolean>((resolve) => {
  const socket = net.connect({ host: '127.0.0.1', port }, () => { socket.destroy(); resolve(false); });
  socket.on('error', () => resolve(true));
});

describe('alert webhooks cannot reach inside (real server)', () => {
  let caddy: TestCaddy;
  let berth: BerthServer;
  let victim: WebhookReceiver;      // an internal service on loopback: nothing may ever reach it
  let redirector: WebhookReceiver;  // an allow-listed internal receiver that answers 302 → victim
  let formerlyAllowed: WebhookReceiver;
  let mallory = '';
  const app = uniqueName('ssrf');

  before(async () => {
    caddy = await startCaddy();
    victim = await startWebhookReceiver();
    redirector = await startWebhookReceiver({ host: '127.0.0.2', redirectTo: `${victim.url}?via=redirect` });
    formerlyAllowed = await startWebhookReceiver({ host: '127.0.0.3' });
    berth = await startBerth(caddy, { BERTH_WEBHOOK_ALLOW: '127.0.0.2/32,127.0.0.3/32' });
    await berth.ok('POST', '/apps', { name: app });
    await berth.ok('POST', `/apps/${app}/deploys`, { image: TEST_IMAGE });
    mallory = (await berth.ok('POST', '/users', { name: uniqueName('mallory'), role: 'member' })).token;
    const name = (await berth.api('GET', '/users/me', undefined, mallory)).body.name;
    await berth.ok('POST', `/apps/${app}/access`, { user: name });
  });

  after(async () => {
    await berth?.api('DELETE', `/apps/${app}`, { confirm: app });
    await berth?.kill('SIGTERM');
    await caddy?.stop();
    await Promise.all([victim?.close(), redirector?.close(), formerlyAllowed?.close()]);
  });

  const addRule = (webhook: string, token = mallory, rule = 'log "request GET /ssrf" >= 1 in 1m') =>
    berth.api('POST', `/apps/${app}/alerts`, { rule, webhook }, token);
  /** A request the app logs as "request GET <route>", which is what the log rules below count. */
  const appRequest = async (route: string) => {
    const [web] = await berth.ok('GET', `/apps/${app}/ps`);
    await fetch(`http://127.0.0.1:${web.hostPort}${route}`).then((r) => r.arrayBuffer()).catch(() => {});
  };

  test('a member\'s webhook to loopback, private, link-local or Berth\'s own addresses is refused with 422, whatever the spelling', async () => {
    const p = berth.port;
    const ownAddress = Object.values(os.networkInterfaces()).flat().find((i) => i && !i.internal && i.family === 'IPv4')?.address;
    const targets = [
      'http://127.0.0.1:2019/stop',                      // Caddy's old admin API
      `http://127.0.0.1:${p}/api/v1/apps`,               // Berth's API
      `http://[::1]:${p}/`,
      'http://169.254.169.254/latest/meta-data/',        // cloud metadata
      'http://10.0.0.1/', 'http://172.16.0.1/', 'http://192.168.1.1/', 'http://100.64.0.1/',
      'http://[fd00::1]/', 'http://[fe80::1]/', 'http://224.0.0.1/', 'http://0.0.0.0/',
      `http://2130706433:${victim.port}/`, `http://0x7f000001:${victim.port}/`, `http://0177.0.0.1:${victim.port}/`,
      `http://127.1:${victim.port}/`, `http://[::ffff:127.0.0.1]:${victim.port}/`, `http://[0:0:0:0:0:0:0:1]:${victim.port}/`,
      `http://localhost:${victim.port}/hook`, `http://LOCALHOST.:${victim.port}/hook`, `https://localhost:${victim.port}/`,
      `http://127.0.0.2:${p}/`,                           // an allow-listed address, but on Berth's own API port
      ...(ownAddress ? [`http://${ownAddress}:${p}/`] : []),
    ];
    for (const webhook of targets) {
      const res = await addRule(webhook);
      assert.equal(res.status, 422, `${webhook}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, 'webhook_forbidden');
      assert.match(res.body.message, /BERTH_WEBHOOK_ALLOW/);
    }
    const byName = await addRule(`http://localhost:${victim.port}/hook`);
    assert.doesNotMatch(byName.body.message, /127\.0\.0\.1|::1/, 'a name\'s addresses are not revealed');
    assert.match(byName.body.message, /localhost does not resolve, or resolves to an address alert webhooks may not reach/);
    assert.match((await addRule('http://169.254.169.254/')).body.message, /169\.254\.169\.254 is a link-local address/);
    // Admins are held to the same rules: a rule is checked at every delivery, whoever made it.
    assert.equal((await addRule('http://127.0.0.1:2019/stop', berth.token)).status, 422);
    assert.equal((await addRule('http://user:pw@example.com/')).status, 400);
    assert.deepEqual(await berth.ok('GET', `/apps/${app}/alerts`), [], 'nothing was saved');
    assert.equal(victim.bodies.length, 0);
  });

  test('an allow-listed receiver that redirects to loopback: the redirect is not followed', async () => {
    const res = await addRule(redirector.url, mallory, 'log "request GET /ssrf-redirect" >= 1 in 1m');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await eventually('the alert fires', async () => {
      await appRequest('/ssrf-redirect');
      return redirector.bodies.length > 0;
    }, 60_000);
    const [event] = await eventually('the delivery is logged', async () => {
      const events = await berth.ok('GET', `/apps/${app}/alerts/events`);
      return events.length && events[0].deliveries.length ? events : undefined;
    });
    await sleep(1500); // time for a (wrong) redirect hop or retry to land
    assert.equal(victim.bodies.length, 0, 'the redirect target was never called');
    assert.equal(event.deliveries.length, 1, 'a redirect is not retried');
    assert.equal(event.deliveries[0].status, 302);
    assert.match(event.deliveries[0].error, /redirects are not followed/);
    await berth.ok('DELETE', `/apps/${app}/alerts/${res.body.id}`);
  });

  test('rules saved while their address was allowed are refused at delivery, all with one generic reason', async () => {
    const closedPort = await freePort();
    const open = await addRule(formerlyAllowed.url, mallory, 'log "request GET /ssrf-stale" >= 1 in 1m');
    const closed = await addRule(`http://127.0.0.3:${closedPort}/`, mallory, 'log "request GET /ssrf-stale" >= 1 in 1m');
    assert.equal(open.status, 201);
    assert.equal(closed.status, 201);
    // The operator narrows the allow-list; the rules stay in the database.
    await berth.kill('SIGTERM');
    berth.env.BERTH_WEBHOOK_ALLOW = '127.0.0.2/32';
    await berth.start();
    const events = await eventually('both rules fire and record a delivery', async () => {
      await appRequest('/ssrf-stale');
      const all = await berth.ok('GET', `/apps/${app}/alerts/events`);
      const mine = all.filter((e: any) => [open.body.id, closed.body.id].includes(e.ruleId) && e.deliveries.length);
      return mine.length === 2 ? mine : undefined;
    }, 60_000);
    await sleep(1500);
    for (const event of events) {
      assert.deepEqual(event.deliveries.map((d: any) => [d.attempt, d.status, d.error]), [[1, null, REFUSED_AT_CONNECT]],
        'one attempt, no status, and the same reason whether the port is open or closed');
    }
    assert.equal(formerlyAllowed.bodies.length, 0);
    assert.match(berth.output, /webhook of .* refused: 127\.0\.0\.3 is a loopback address/, 'the server log has the detail');
  });

  test('after all that, Caddy still routes the app, and its admin API listens on no TCP port', async () => {
    const res = await eventually('the app answers through Caddy', async () => {
      const answer = await viaRouter(caddy.httpPort, `${app}.localhost`);
      return answer.status === 200 ? answer : undefined;
    });
    assert.match(res.body, /hello from v1/);
    assert.match(caddy.adminUrl, /^unix:\//);
    assert.ok(await new CaddyAdminClient(caddy.adminUrl).get('/config/apps/http/servers'), 'the admin API answers on its socket');
    const ports = listeningTcpPorts(caddy.pid);
    assert.ok(ports.length > 0, 'the router listens');
    assert.deepEqual(ports.filter((port) => port !== caddy.httpPort && port !== caddy.httpsPort), [], `caddy listens on ${ports}`);
  });
});

describe('the connect-time check (DNS rebinding), on the guarded request itself', () => {
  let victim: WebhookReceiver;
  let allowed: WebhookReceiver;
  before(async () => {
    victim = await startWebhookReceiver();
    allowed = await startWebhookReceiver({ host: '127.0.0.2' });
  });
  after(async () => { await victim?.close(); await allowed?.close(); });

  const post = (guard: OutboundGuard, url: string) => guard.post(new URL(url), '{}', { headers: { 'content-type': 'application/json' }, timeoutMs: 2000 });
  const answers = (...rounds: string[][]): { resolve: Resolver; calls: () => number } => {
    let n = 0;
    return {
      resolve: async () => rounds[Math.min(n++, rounds.length - 1)].map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 })),
      calls: () => n,
    };
  };

  test('a name that is public when saved and loopback when dialed is refused where the socket dials', async () => {
    const dns = answers(['93.184.216.34'], ['127.0.0.1']);
    const guard = new OutboundGuard(new OutboundPolicy(), dns.resolve);
    const url = `http://rebind.example:${victim.port}/hook`;
    await guard.vet(new URL(url));
    await assert.rejects(post(guard, url), (err: unknown) => err instanceof OutboundRefusedError && err.message === REFUSED_AT_CONNECT
      && /127\.0\.0\.1 is a loopback address/.test(err.detail));
    assert.equal(dns.calls(), 2, 'resolved again for the connection');
    assert.equal(victim.bodies.length, 0);
  });

  test('one internal address among public ones is enough to refuse, at save and at connect time', async () => {
    const guard = new OutboundGuard(new OutboundPolicy(), answers(['93.184.216.34', '::1']).resolve);
    await assert.rejects(guard.vet(new URL('http://mixed.example/')), OutboundRefusedError);
    await assert.rejects(post(guard, `http://mixed.example:${victim.port}/`), OutboundRefusedError);
    const failing = new OutboundGuard(new OutboundPolicy(), async () => { throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }); });
    await assert.rejects(failing.vet(new URL('http://nowhere.example/')), /does not resolve, or resolves to an address/);
  });

  test('IP literals in any spelling are refused before any lookup', async () => {
    const dns = answers(['93.184.216.34']);
    const guard = new OutboundGuard(new OutboundPolicy(), dns.resolve);
    for (const url of [`http://2130706433:${victim.port}/`, `http://0x7f000001:${victim.port}/`, `http://[::ffff:7f00:1]:${victim.port}/`]) {
      await assert.rejects(post(guard, url), OutboundRefusedError, url);
    }
    assert.equal(dns.calls(), 0);
    assert.equal(victim.bodies.length, 0);
  });

  test('control: an allow-listed address is reached, through the same lookup', async () => {
    const dns = answers(['127.0.0.2']);
    const guard = new OutboundGuard(new OutboundPolicy({ allow: parseAllowList('127.0.0.2/32') }), dns.resolve);
    const res = await post(guard, `http://receiver.example:${allowed.port}/hook`);
    assert.equal(res.status, 200);
    assert.equal(allowed.bodies.length, 1);
    assert.equal(dns.calls(), 1);
  });
});

describe('berth up\'s Caddy: admin API on a unix socket, started again whenever it exits', { skip: fs.existsSync('/run/systemd/system') && 'systemd runs Caddy here (Restart=always)' }, () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-upcaddy-'));
  const env = {
    ...process.env, BERTH_ETC_DIR: path.join(root, 'etc'), BERTH_DATA_DIR: path.join(root, 'data'),
    BERTH_RUN_DIR: path.join(root, 'run'), BERTH_LOG_DIR: path.join(root, 'log'),
    // Caddy runs under the built executable's `berth supervise` (npm run build; scripts/up.sh builds it).
    BERTH_EXECUTABLE: path.join(ROOT, 'dist', 'berth'),
  };
  const socket = path.join(root, 'run', 'caddy-admin.sock');
  const pidFile = path.join(root, 'run', 'caddy.pid');
  // berth up's Caddy steps (its config, then Caddy itself), in the sandbox.
  const ensureCaddy = async () => {
    const appliance = loadAppliance(env);
    prepareDirs(appliance);
    let out = '';
    const summary = await runUpTasks(caddyTasks(appliance), (line) => { out += line; });
    assert.ok(summary.succeeded, out);
    return out;
  };
  // scripts/down.sh's stop.
  const sh = (script: string) => {
    const res = spawnSync('bash', ['-c', `source scripts/lib.sh && ${script}`], { cwd: ROOT, env, encoding: 'utf8', timeout: 90_000 });
    assert.equal(res.status, 0, `${script}:\n${res.stdout}\n${res.stderr}`);
    return res.stdout;
  };
  const childOf = (pid: number) => Number(execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
  // A zombie counts as gone (in a container PID 1 may never reap the daemons up.sh detached).
  const alive = (pid: number) => { try { return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
  let oldAdminPort = 0;

  after(() => {
    // Whatever failed above, nothing this test started keeps running.
    const wrapper = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
    if (wrapper && alive(wrapper)) {
      const caddyPid = (() => { try { return childOf(wrapper); } catch { return 0; } })();
      process.kill(wrapper, 'SIGKILL');
      if (caddyPid) process.kill(caddyPid, 'SIGKILL');
    }
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('an install from before (admin on TCP in its autosave) comes up with the admin API on the socket only', async () => {
    oldAdminPort = await freePort();
    const autosave = path.join(root, 'data', 'caddy', 'config', 'caddy', 'autosave.json');
    fs.mkdirSync(path.dirname(autosave), { recursive: true });
    fs.writeFileSync(autosave, JSON.stringify({ admin: { listen: `127.0.0.1:${oldAdminPort}` } }));
    const out = await ensureCaddy();
    assert.match(out, /\[changed\] .*autosave\.json: admin API moved to .*caddy-admin\.sock/);
    assert.match(out, /\[changed\] started caddy/);
    assert.equal(fs.statSync(path.join(root, 'run')).mode & 0o777, 0o700, 'only root reaches the socket');
    const admin = new CaddyAdminClient(`unix:${socket}`);
    assert.equal((await admin.get<{ listen: string }>('/config/admin')).listen, `unix/${socket}`);
    const caddyPid = childOf(Number(fs.readFileSync(pidFile, 'utf8')));
    assert.deepEqual(listeningTcpPorts(caddyPid), [], 'no TCP listener at all');
    assert.ok(await refusesConnection(oldAdminPort));
    assert.match(await ensureCaddy(), /\[ok\] caddy running/, 'a second run changes nothing');
  });

  test('Caddy killed with SIGKILL is running again on its socket within seconds; down.sh\'s stop ends both', async () => {
    const wrapper = Number(fs.readFileSync(pidFile, 'utf8'));
    const first = childOf(wrapper);
    process.kill(first, 'SIGKILL');
    const admin = new CaddyAdminClient(`unix:${socket}`, { timeoutMs: 1000 });
    const second = await eventually('a new Caddy answers on the socket', async () => {
      const pid = (() => { try { return childOf(wrapper); } catch { return 0; } })();
      if (!pid || pid === first) return undefined;
      await admin.get('/config/');
      return pid;
    }, 15_000);
    assert.notEqual(second, first);
    assert.match(sh('stop_daemon caddy "$BERTH_RUN_DIR/caddy.pid" "$CADDY_PID_WORD" 20'), /\[changed\] stopped caddy/);
    await eventually('both are gone', async () => !alive(wrapper) && !alive(second), 10_000);
    assert.equal(fs.existsSync(pidFile), false);
  });
});
