// Small pure rules of the push pipeline and the converger, checked directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBuildArgs } from '../src/pipeline/build-settings.ts';
import { containerPortFor, shellCommand } from '../src/releases/converge.ts';
import { formationForProcesses } from '../src/releases/formation.ts';
import { DEAD_CHECK_MS, pollDelayMs } from '../src/releases/health.ts';
import { afterReleasePhase, splitForReleasePhase } from '../src/releases/release-phase.ts';
import { procfileDockerfile } from '../src/builder/dockerfiles.ts';

test('only config vars named in BERTH_BUILD_ARGS reach the build', () => {
  const config = { BERTH_BUILD_ARGS: 'NPM_TOKEN, API_URL,MISSING', NPM_TOKEN: 's3cret', API_URL: 'https://x', DATABASE_URL: 'postgres://' };
  assert.deepEqual(parseBuildArgs(config), { NPM_TOKEN: 's3cret', API_URL: 'https://x' });
  assert.deepEqual(parseBuildArgs({ DATABASE_URL: 'postgres://' }), {});
});

test('simple Procfile commands are exec\'d so SIGTERM reaches the app; compound ones run as written', () => {
  assert.deepEqual(shellCommand('npm start'), ['/bin/sh', '-c', 'exec npm start']);
  assert.deepEqual(shellCommand('bin/migrate && node server.js'), ['/bin/sh', '-c', 'bin/migrate && node server.js']);
  assert.deepEqual(shellCommand('a; b'), ['/bin/sh', '-c', 'a; b']);
  assert.deepEqual(shellCommand('a | b'), ['/bin/sh', '-c', 'a | b']);
});

test('web instances listen on the image\'s one EXPOSEd port, else on 5000', () => {
  assert.equal(containerPortFor([80]), 80);
  assert.equal(containerPortFor([]), 5000);
  assert.equal(containerPortFor([80, 443]), 5000);
});

test('a build\'s Procfile sets the process types, keeping the scale of types that stay', () => {
  const current = [
    { type: 'web', quantity: 3, memoryMB: 512, cpus: null, command: 'old', generation: 2 },
    { type: 'clock', quantity: 1, memoryMB: null, cpus: null, command: 'clock', generation: 0 },
  ];
  const next = formationForProcesses(current, { web: 'npm start', worker: 'node worker.js' });
  assert.deepEqual(next, [
    { type: 'web', quantity: 3, memoryMB: 512, cpus: null, command: 'npm start', generation: 2 },
    { type: 'worker', quantity: 0, memoryMB: null, cpus: null, command: 'node worker.js', generation: 0 },
  ]);
  assert.deepEqual(formationForProcesses([], {}).map((f) => [f.type, f.quantity, f.command]), [['web', 1, null]]);
});

test('health probes come quickly after an instance starts, then every 200 ms at most', () => {
  const delays = Array.from({ length: 30 }, (_, attempt) => pollDelayMs(attempt));
  assert.equal(delays[0], 20);
  assert.ok(delays.every((d, i) => i === 0 || d >= delays[i - 1]), 'never shorter than the one before');
  assert.equal(Math.max(...delays), 200);
  // An app that listens within half a second of its start is seen at most 100 ms later.
  let waited = 0;
  for (let attempt = 0; waited < 500; attempt++) {
    assert.ok(pollDelayMs(attempt) <= 100, `pause ${pollDelayMs(attempt)} ms at ${waited} ms`);
    waited += pollDelayMs(attempt);
  }
});

test('during the release phase only web instances start: workers act as soon as they run', () => {
  const spec = (process: string, containerPort: number | null) => ({
    app: 'a', release: 2, process, index: 1, generation: 0, image: 'i', command: null, env: {}, containerPort, hostPort: null, memoryMB: null, cpus: null,
  });
  const { duringPhase, afterPhase } = splitForReleasePhase([spec('web', 5000), spec('worker', null), spec('clock', null)]);
  assert.deepEqual(duringPhase.map((s) => s.process), ['web']);
  assert.deepEqual(afterPhase.map((s) => s.process), ['worker', 'clock']);
});

test('web instances started during the release phase are routed only if it succeeded; early failures get a second start', () => {
  const at = 10_000;
  assert.equal(afterReleasePhase({ ok: true, at }, { ok: true, at: at + 300 }), 'route');
  assert.equal(afterReleasePhase({ ok: false, at }, { ok: true, at: at - 300 }), 'phase-failed');
  assert.equal(afterReleasePhase({ ok: false, at }, { ok: false, at: at - 300 }), 'phase-failed');
  // Dead while the migration ran (or noticed within a health check's death check after it): maybe it needed the migration.
  assert.equal(afterReleasePhase({ ok: true, at }, { ok: false, at: at - 300 }), 'start-again');
  assert.equal(afterReleasePhase({ ok: true, at }, { ok: false, at: at + DEAD_CHECK_MS - 1 }), 'start-again');
  // Failed long after it: as without the overlap, the release fails (no second 60 s health check for an app that never listens).
  assert.equal(afterReleasePhase({ ok: true, at }, { ok: false, at: at + 60_000 }), 'instances-failed');
});

test('generated Dockerfiles label the image before the source copy, so a push re-runs no label step', () => {
  const dockerfile = procfileDockerfile({ baseImage: 'berth/generic:12', extraCa: false, command: ['/bin/bash', '-c', 'web'], labels: { 'berth.app': 'shop' } });
  const lines = dockerfile.split('\n');
  assert.ok(lines.includes('LABEL "berth.app"="shop"'), dockerfile);
  assert.ok(lines.indexOf('LABEL "berth.app"="shop"') < lines.indexOf('COPY . ./'), dockerfile);
  assert.ok(!procfileDockerfile({ baseImage: 'b', extraCa: false, command: null, labels: {} }).includes('LABEL'));
});
