// How long git's pre-receive hook process takes to start and decide, once per push (issue 16 item 14): each way
// of running Berth's hook, run with no hook environment so it answers its one refusal line and exits, versus the
// same program reaching the hook through the whole server/program (what every push paid before), and `node -e 0`,
// the floor of any Node process. 20 rounds (BENCH_ROUNDS), the variants alternating within each round.
//   export PATH=/opt/berth/node/bin:$PATH; node scripts/bench/hook-start.ts    (after npm run build)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BUNDLE, EXECUTABLE, ROOT, bundleState, main, ms, printTable, ratio, stats, statsRow, STATS_HEADERS } from './lib.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const node = process.execPath;
const hookBeside = path.join(path.dirname(BUNDLE), 'git-hook.mjs');

/** [label, argv]: the hook as the server runs it now, then as it did before (through the whole program). */
const VARIANTS: Array<[string, string[]]> = [
  ['node -e 0 (floor)', [node, '-e', '0']],
  ['executable: berth git-hook (launcher only)', [EXECUTABLE, 'git-hook']],
  ['executable, before: berth server git-hook (whole program)', [EXECUTABLE, 'server', 'git-hook']],
  ['bundle: node dist/git-hook.mjs', [node, '--no-warnings', hookBeside, 'git-hook']],
  ['bundle, before: node dist/berth-server.mjs git-hook', [node, '--no-warnings', BUNDLE, 'git-hook']],
  ['sources: node src/server/git-hook.ts', [node, '--no-warnings', path.join(ROOT, 'src/server/git-hook.ts'), 'git-hook']],
  ['sources, before: node src/server/main.ts git-hook', [node, '--no-warnings', path.join(ROOT, 'src/server/main.ts'), 'git-hook']],
];

main('hook-start', async () => {
  for (const file of [EXECUTABLE, BUNDLE, hookBeside]) {
    const state = bundleState(file);
    if (state !== 'fresh') console.log(`note: ${path.relative(ROOT, file)} is ${state === 'missing' ? 'missing' : 'older than src/'} (npm run build)`);
  }
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const loadBefore = load();
  const variants = VARIANTS.filter(([, argv]) => argv.every((a) => !a.startsWith('/') || fs.existsSync(a)));
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    variants.forEach(([label, [program, ...args]], i) => {
      const started = performance.now();
      const run = spawnSync(program, args, { input: '', encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
      const took = performance.now() - started;
      if (i > 0 && (run.status !== 1 || !/^Push rejected: this repository only accepts pushes through the Berth server\.$/m.test(run.stdout))) {
        throw new Error(`${label}: not the hook's refusal (exit ${run.status}): ${run.stdout}${run.stderr}`);
      }
      times[i].push(took);
    });
  }
  const floor = stats(times[0]).median;
  printTable(`hook process, start to exit (${ROUNDS} rounds; load ${loadBefore} → ${load()})`, [...STATS_HEADERS, 'vs node -e 0'],
    variants.map(([label], i) => [...statsRow(label, stats(times[i])), ratio(stats(times[i]).median, floor)]));
  for (let i = 1; i + 1 < variants.length; i += 2) {
    console.log(`${variants[i][0]}: ${ms(stats(times[i]).median)}, ${ratio(stats(times[i]).median, stats(times[i + 1]).median)} of before`);
  }
});
