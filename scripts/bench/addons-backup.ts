// The backup half of scripts/bench/addons.ts: a Postgres add-on filled to ~BENCH_BACKUP_MB of table data, then,
// per round, pg_dump / pg_restore run by hand (`docker exec` in the service's container, the same commands Berth
// runs, streaming to and from a file on the host) and backups:capture / backups:restore through Berth's API,
// alternating who goes first. Throughput is the database's size over the time taken. The server's RSS is
// sampled every 250 ms while Berth streams: flat means its peak stays within RSS_FLAT_MB of where it started.
// Wall-clock ratios swing with the machine's load, so each side's CPU time is measured too: the Berth server's
// (utime + stime from /proc) against the docker CLI's that moves the same bytes by hand (bash's `times`), per MB
// of dump; the last line sums up both ratios, the CPU figures and the load.
//   node scripts/bench/addons-backup.ts   (alone; BENCH_BACKUP_ROUNDS=2, BENCH_BACKUP_MB=1024)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dumpCommand, restoreCommand } from '../../src/addons/backups/commands.ts';
import { serviceContainerName } from '../../src/runtime/docker/service-options.ts';
import { cpuMs, docker, main, printTable, rssMB, serverPid, stats, verdict, withStack, type Stack } from './lib.ts';

const TARGET_MB = Number(process.env.BENCH_BACKUP_MB ?? 1024);
const ROUNDS = Number(process.env.BENCH_BACKUP_ROUNDS ?? 2);
const RSS_FLAT_MB = 64;
const MB = 1024 * 1024;

/** Wall time, and the CPU time of the process that moved the bytes (the server, or the docker CLI by hand). */
interface Timed { ms: number; cpuMs: number; rss?: RssTrace }
interface RssTrace { start: number; peak: number; end: number }

export async function backupBench(s: Stack): Promise<void> {
  const app = s.app('backup');
  const name = `${s.prefix}-big`;
  await s.berth.ok('POST', '/apps', { name: app });
  await s.berth.ok('POST', `/apps/${app}/addons`, { kind: 'postgres', name, size: '1G' });
  const container = serviceContainerName(name);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-backup-'));
  const loadBefore = loadavg();
  try {
    const bytes = await fill(container, TARGET_MB);
    console.log(`database: ${(bytes / MB).toFixed(0)} MB (pg_database_size)`);
    const rows: Record<'manualDump' | 'manualRestore' | 'berthDump' | 'berthRestore', Timed[]> = { manualDump: [], manualRestore: [], berthDump: [], berthRestore: [] };
    let dumpBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const manual = async () => {
        const file = path.join(work, 'manual.dump');
        rows.manualDump.push(await execToFile(container, dumpCommand('postgres'), file));
        dumpBytes = fs.statSync(file).size;
        rows.manualRestore.push(await execFromFile(container, restoreCommand('postgres'), file));
        fs.rmSync(file);
      };
      const berth = async () => {
        let id = '';
        rows.berthDump.push(await sampled(s, async () => { id = (await s.berth.ok('POST', `/addons/${name}/backups`)).id; }));
        rows.berthRestore.push(await sampled(s, () => s.berth.ok('POST', `/addons/${name}/backups/${id}/restore`, { confirm: name })));
      };
      for (const side of round % 2 ? [berth, manual] : [manual, berth]) await side();
    }
    const median = (t: Timed[]) => stats(t.map((x) => x.ms)).median;
    const each = (t: Timed[]) => t.map((x) => (x.ms / 1000).toFixed(1)).join(' / ');
    const rate = (ms: number) => `${(bytes / MB / (ms / 1000)).toFixed(1)} MB/s`;
    const trace = (t: Timed[]) => t.map((x) => `${x.rss!.start.toFixed(0)}→${x.rss!.peak.toFixed(0)}→${x.rss!.end.toFixed(0)}`).join(', ');
    printTable(`Backup and restore of a ${(bytes / MB).toFixed(0)} MB database (dump ${(dumpBytes / MB).toFixed(0)} MB, pg_dump -Fc), ${ROUNDS} round(s), median`,
      ['what', 'by hand (docker exec)', 'through Berth', 'Berth throughput / by hand', 'each round, by hand vs Berth (s)', 'server RSS start→peak→end (MB)'], [
        ['backup (pg_dump)', `${(median(rows.manualDump) / 1000).toFixed(1)} s, ${rate(median(rows.manualDump))}`, `${(median(rows.berthDump) / 1000).toFixed(1)} s, ${rate(median(rows.berthDump))}`,
          (median(rows.manualDump) / median(rows.berthDump)).toFixed(2), `${each(rows.manualDump)} vs ${each(rows.berthDump)}`, trace(rows.berthDump)],
        ['restore (pg_restore)', `${(median(rows.manualRestore) / 1000).toFixed(1)} s, ${rate(median(rows.manualRestore))}`, `${(median(rows.berthRestore) / 1000).toFixed(1)} s, ${rate(median(rows.berthRestore))}`,
          (median(rows.manualRestore) / median(rows.berthRestore)).toFixed(2), `${each(rows.manualRestore)} vs ${each(rows.berthRestore)}`, trace(rows.berthRestore)],
      ]);
    const flat = [...rows.berthDump, ...rows.berthRestore].every((t) => t.rss!.peak - t.rss!.start <= RSS_FLAT_MB);
    const cpuPerMB = (t: Timed[]) => stats(t.map((x) => x.cpuMs / (dumpBytes / MB))).median;
    printTable('CPU time of what moves the bytes, per MB of dump (median)', ['what', 'docker CLI by hand', 'Berth server', 'each round, by hand vs Berth (ms)'], [
      ['backup', `${cpuPerMB(rows.manualDump).toFixed(1)} ms/MB`, `${cpuPerMB(rows.berthDump).toFixed(1)} ms/MB`, `${rows.manualDump.map((x) => x.cpuMs).join(' / ')} vs ${rows.berthDump.map((x) => x.cpuMs).join(' / ')}`],
      ['restore (Berth: with its checksum pass)', `${cpuPerMB(rows.manualRestore).toFixed(1)} ms/MB`, `${cpuPerMB(rows.berthRestore).toFixed(1)} ms/MB`, `${rows.manualRestore.map((x) => x.cpuMs).join(' / ')} vs ${rows.berthRestore.map((x) => x.cpuMs).join(' / ')}`],
    ]);
    printTable('Targets', ['target', 'measured', 'verdict'], [
      ['backup ≥ 0.9× the by-hand throughput', (median(rows.manualDump) / median(rows.berthDump)).toFixed(2), verdict(median(rows.manualDump) / median(rows.berthDump) >= 0.9)],
      ['restore ≥ 0.9× the by-hand throughput', (median(rows.manualRestore) / median(rows.berthRestore)).toFixed(2), verdict(median(rows.manualRestore) / median(rows.berthRestore) >= 0.9)],
      [`server RSS flat while streaming (peak ≤ start + ${RSS_FLAT_MB} MB)`, trace([...rows.berthDump, ...rows.berthRestore]), verdict(flat)],
    ]);
    const r = (hand: Timed[], berth: Timed[]) => (median(hand) / median(berth)).toFixed(2);
    console.log(`\nsummary: ${new Date().toISOString()} db ${(bytes / MB).toFixed(0)} MB, dump ${(dumpBytes / MB).toFixed(0)} MB, ${ROUNDS} round(s): ` +
      `backup ${r(rows.manualDump, rows.berthDump)}x, restore ${r(rows.manualRestore, rows.berthRestore)}x the by-hand throughput (target 0.9); ` +
      `CPU ms/MB of dump, by hand vs server: backup ${cpuPerMB(rows.manualDump).toFixed(1)} vs ${cpuPerMB(rows.berthDump).toFixed(1)}, ` +
      `restore ${cpuPerMB(rows.manualRestore).toFixed(1)} vs ${cpuPerMB(rows.berthRestore).toFixed(1)}; RSS ${flat ? 'flat' : 'NOT flat'}; load ${loadBefore} -> ${loadavg()}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    await s.berth.api('DELETE', `/apps/${app}`, { confirm: app });
  }
}

/** Rows of random hex text (compresses about 2:1, as real data might) until the database is about `mb` MB; returns its size in bytes. */
async function fill(container: string, mb: number): Promise<number> {
  const rows = Math.round((mb * MB) / 200); // ~200 bytes a row on disk: 132 characters of text, header and id
  await psql(container, `CREATE TABLE bench AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) AS body FROM generate_series(1, ${rows}) g`);
  return Number(await psql(container, 'SELECT pg_database_size(current_database())'));
}

const psql = (container: string, sql: string) =>
  docker('exec', container, 'sh', '-c', `psql -h /tmp -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAq -v ON_ERROR_STOP=1 -c '${sql.replace(/'/g, "'\\''")}'`);

const loadavg = (): string => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Times work (an API call) while sampling the server's RSS every 250 ms; the server's CPU time over it. */
async function sampled(s: Stack, work: () => Promise<unknown>): Promise<Timed> {
  const pid = serverPid(s.berth);
  const start = rssMB(pid).rss;
  let peak = start;
  const timer = setInterval(() => { peak = Math.max(peak, rssMB(pid).rss); }, 250);
  try {
    const cpuBefore = cpuMs(pid);
    const started = Date.now();
    await work();
    return { ms: Date.now() - started, cpuMs: cpuMs(pid) - cpuBefore, rss: { start, peak, end: rssMB(pid).rss } };
  } finally {
    clearInterval(timer);
  }
}

/** docker exec CONTAINER command > file (what a person would type). */
function execToFile(container: string, command: string[], file: string): Promise<Timed> {
  return run(['exec', container, ...command], { out: fs.openSync(file, 'w') });
}

/** docker exec -i CONTAINER command < file. */
function execFromFile(container: string, command: string[], file: string): Promise<Timed> {
  return run(['exec', '-i', container, ...command], { in: fs.openSync(file, 'r') });
}

/** The docker CLI under bash, whose `times` (to stderr, after it) says the CPU time the CLI used. */
const TIMES = '"$@"; rc=$?; times >&2; exit $rc';

function run(args: string[], fds: { in?: number; out?: number }): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('bash', ['-c', TIMES, 'bash', 'docker', ...args], { stdio: [fds.in ?? 'ignore', fds.out ?? 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Date.now() - started;
      for (const fd of [fds.in, fds.out]) if (fd !== undefined) fs.closeSync(fd);
      // times prints the shell's own user/sys line, then its children's: the second is the CLI's.
      const children = [...stderr.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].at(-1);
      if (code !== 0 || !children) return reject(new Error(`docker ${args.slice(0, 2).join(' ')} … exited ${code}: ${stderr}`));
      const seconds = (m: string, s: string) => Number(m) * 60 + Number(s);
      resolve({ ms, cpuMs: Math.round(1000 * (seconds(children[1]!, children[2]!) + seconds(children[3]!, children[4]!))) });
    });
  });
}

if (import.meta.main) main('addons-backup', () => withStack({}, backupBench));
