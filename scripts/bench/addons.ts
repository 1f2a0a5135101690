// Add-on benchmarks (issue 11), each against a floor measured in the same run:
//  1. `addons:create postgres` (POST /apps/:app/addons, which returns once the service accepts connections) vs
//     `docker run` of the same image (berth/postgres:15, same credentials, a fresh volume) until it does; both
//     checked from the host with a Postgres startup message (pg-probe.ts). Targets: ≤ 1.5× the floor, ≤ 10 s.
//  2. Backup and restore of a ~1 GB Postgres database through Berth (backups:capture, backups:restore) vs pg_dump /
//     pg_restore run by hand with `docker exec` in the same container, streaming to and from a file on the host.
//     Target: ≥ 0.9× their throughput, with the server's RSS sampled while it streams (it must stay flat).
//   node scripts/bench/addons.ts     (BENCH_ADDON_ROUNDS=5, BENCH_BACKUP_MB=1024, BENCH_ONLY_PART=create|backup)
import { randomBytes } from 'node:crypto';
import { acceptsConnections } from './pg-probe.ts';
import { backupBench } from './addons-backup.ts';
import { BENCH_LABEL, docker, firstSuccess, main, printTable, ratio, stats, statsRow, STATS_HEADERS, verdict, withStack, type Stack } from './lib.ts';

const ROUNDS = Number(process.env.BENCH_ADDON_ROUNDS ?? 5);
const PART = process.env.BENCH_ONLY_PART ?? '';
const IMAGE = 'berth/postgres:15';
const PROBE_EVERY_MS = 50;

main('addons', async () => {
  await withStack({}, async (s) => {
    if (PART !== 'backup') await createBench(s);
    if (PART !== 'create') await backupBench(s);
  });
});

async function createBench(s: Stack): Promise<void> {
  const app = s.app('create');
  await s.berth.ok('POST', '/apps', { name: app });
  await dockerRunUntilReady(s, 'warm'); // the image's layers into the page cache, for both sides alike
  const floor: number[] = [];
  const berth: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first, so a slow moment of the machine does not always fall on the same side.
    const sides = [() => dockerRunUntilReady(s, String(round)).then((t) => floor.push(t)), () => berthCreate(s, app, round).then((t) => berth.push(t))];
    for (const side of round % 2 ? sides.reverse() : sides) await side();
  }
  const f = stats(floor);
  const b = stats(berth);
  printTable(`addons:create postgres until it accepts connections (${ROUNDS} rounds, alternating)`, STATS_HEADERS, [
    statsRow('docker run (floor)', f), statsRow('addons:create (Berth)', b),
  ]);
  printTable('Targets', ['target', 'measured', 'verdict'], [
    ['addons:create ≤ 1.5× docker run (medians)', ratio(b.median, f.median), verdict(b.median <= 1.5 * f.median)],
    ['addons:create ≤ 10 s (median)', `${(b.median / 1000).toFixed(2)} s`, verdict(b.median <= 10_000)],
  ]);
}

/** docker run -d of the image with a fresh volume, then the probe every 50 ms; ms until it accepted. */
async function dockerRunUntilReady(s: Stack, tag: string): Promise<number> {
  const name = `${s.prefix}-floor-${tag}`;
  const password = randomBytes(24).toString('hex');
  const started = Date.now();
  try {
    await docker('run', '-d', '--name', name, '--label', `${BENCH_LABEL}=${s.prefix}`, '-v', `${name}:/data`, '--memory', '512m',
      '-e', 'POSTGRES_USER=berth', '-e', `POSTGRES_PASSWORD=${password}`, '-e', 'POSTGRES_DB=bench', IMAGE);
    const ip = await docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name);
    const at = await firstSuccess(() => acceptsConnections(ip, 5432, 'berth', 'bench'), PROBE_EVERY_MS, 60_000);
    if (at === null) throw new Error(`${name} did not accept connections within 60 s`);
    return at - started;
  } finally {
    await docker('rm', '-f', '-v', name).catch(() => '');
    await docker('volume', 'rm', '-f', name).catch(() => '');
  }
}

/** POST /apps/:app/addons (it answers once the service is ready), then the same probe must pass. */
async function berthCreate(s: Stack, app: string, round: number): Promise<number> {
  const name = `${s.prefix}-db${round}`;
  const started = Date.now();
  await s.berth.ok('POST', `/apps/${app}/addons`, { kind: 'postgres', name });
  const answered = Date.now();
  try {
    const url = new URL((await s.berth.ok('GET', `/apps/${app}/addons/${name}?reveal=true`)).url);
    const probe = () => acceptsConnections(url.hostname, Number(url.port || 5432), 'berth', url.pathname.slice(1));
    if (await probe()) return answered - started;
    const at = await firstSuccess(probe, PROBE_EVERY_MS, 60_000);
    if (at === null) throw new Error(`${name} was said ready but did not accept connections`);
    console.log(`note: ${name} accepted connections only ${at - answered} ms after addons:create answered`);
    return at - started;
  } finally {
    await s.berth.ok('DELETE', `/apps/${app}/addons/${name}`, { confirm: name });
  }
}
