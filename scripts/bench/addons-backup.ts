// The backup half of scripts/bench/addons.ts: a Postgres add-on filled to ~BENCH_BACKUP_MB of table data, then,
// per round, pg_dump / pg_restore run by hand (`docker exec` in the service's container, the same commands Berth
// runs, streaming to and from a file on the host) and backups:capture / backups:restore through Berth's API,
// alternating who goes first. Throughput is the database's size over the time taken. The server's RSS is
// sampled every 250 ms while Berth streams: flat means its peak stays within RSS_FLAT_MB of where it started.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dumpCommand, restoreCommand } from '../../src/addons/backups/commands.ts';
import { serviceContainerName } from '../../src/runtime/docker/service-options.ts';
import { docker, printTable, rssMB, serverPid, stats, verdict, type Stack } from './lib.ts';

const TARGET_MB = Number(process.env.BENCH_BACKUP_MB ?? 1024);
const ROUNDS = Number(process.env.BENCH_BACKUP_ROUNDS ?? 2);
const RSS_FLAT_MB = 64;
const MB = 1024 * 1024;

interface Timed { ms: number; rss?: RssTrace }
interface RssTrace { start: number; peak: number; end: number }

export async function backupBench(s: Stack): Promise<void> {
  const app = s.app('backup');
  const name = `${s.prefix}-big`;
  await s.berth.ok('POST', '/apps', { name: app });
  await s.berth.ok('POST', `/apps/${app}/addons`, { kind: 'postgres', name, size: '1G' });
  const container = serviceContainerName(name);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-backup-'));
  try {
    const bytes = await fill(container, TARGET_MB);
    console.log(`database: ${(bytes / MB).toFixed(0)} MB (pg_database_size)`);
    const rows: Record<'manualDump' | 'manualRestore' | 'berthDump' | 'berthRestore', Timed[]> = { manualDump: [], manualRestore: [], berthDump: [], berthRestore: [] };
    let dumpBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const manual = async () => {
        const file = path.join(work, 'manual.dump');
        rows.manualDump.push(await timed(() => execToFile(container, dumpCommand('postgres'), file)));
        dumpBytes = fs.statSync(file).size;
        rows.manualRestore.push(await timed(() => execFromFile(container, restoreCommand('postgres'), file)));
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
    printTable('Targets', ['target', 'measured', 'verdict'], [
      ['backup ≥ 0.9× the by-hand throughput', (median(rows.manualDump) / median(rows.berthDump)).toFixed(2), verdict(median(rows.manualDump) / median(rows.berthDump) >= 0.9)],
      ['restore ≥ 0.9× the by-hand throughput', (median(rows.manualRestore) / median(rows.berthRestore)).toFixed(2), verdict(median(rows.manualRestore) / median(rows.berthRestore) >= 0.9)],
      [`server RSS flat while streaming (peak ≤ start + ${RSS_FLAT_MB} MB)`, trace([...rows.berthDump, ...rows.berthRestore]), verdict(flat)],
    ]);
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

async function timed(work: () => Promise<unknown>): Promise<Timed> {
  const started = Date.now();
  await work();
  return { ms: Date.now() - started };
}

/** Times work while sampling the server's RSS every 250 ms. */
async function sampled(s: Stack, work: () => Promise<unknown>): Promise<Timed> {
  const pid = serverPid(s.berth);
  const start = rssMB(pid).rss;
  let peak = start;
  const timer = setInterval(() => { peak = Math.max(peak, rssMB(pid).rss); }, 250);
  try {
    const t = await timed(work);
    return { ...t, rss: { start, peak, end: rssMB(pid).rss } };
  } finally {
    clearInterval(timer);
  }
}

/** docker exec CONTAINER command > file (what a person would type). */
function execToFile(container: string, command: string[], file: string): Promise<void> {
  return run(['exec', container, ...command], { out: fs.openSync(file, 'w') });
}

/** docker exec -i CONTAINER command < file. */
function execFromFile(container: string, command: string[], file: string): Promise<void> {
  return run(['exec', '-i', container, ...command], { in: fs.openSync(file, 'r') });
}

function run(args: string[], fds: { in?: number; out?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: [fds.in ?? 'ignore', fds.out ?? 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
    child.on('error', reject);
    child.on('close', (code) => {
      for (const fd of [fds.in, fds.out]) if (fd !== undefined) fs.closeSync(fd);
      if (code === 0) resolve(); else reject(new Error(`docker ${args.slice(0, 2).join(' ')} … exited ${code}: ${stderr}`));
    });
  });
}
