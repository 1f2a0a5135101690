// `berth run` on Kubernetes, the decisions (src/scheduler/kubernetes/run-pod.ts): the one-off's Pod, run.N
// numbers, and the gate, which is run here by a real /bin/sh as the pod would run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { AttachedRunRequest } from '../../src/scheduler/types.ts';
import { GATE_SCRIPT, RUN_INDEX_LABEL, freeRunIndex, gateEcho, gateProbe, runPodFor, runPodName, runSelector } from '../../src/scheduler/kubernetes/run-pod.ts';
import { literal } from '../../src/scheduler/kubernetes/manifests.ts';

const request = (over: Partial<AttachedRunRequest> = {}): AttachedRunRequest => ({
  app: 'shop',
  release: { version: 7, imageId: 'sha256:abc', imageRef: null, config: { GREETING: 'hi', DYNO: 'from config' }, containerPort: null },
  command: ['sh', '-c', 'echo "$(id)" $HOME'],
  env: { BERTH_APP: 'shop', BERTH_RELEASE: 'v7', BERTH_PROCESS_TYPE: 'worker' },
  memoryMB: 256,
  timeoutSec: 90,
  tty: false,
  cols: 100,
  rows: 30,
  ...over,
});

test('the pod of run.N: named after its number and its own suffix, labelled as a one-off of the app, stdin once, limits and time limit', () => {
  const pod = runPodFor(request(), { index: 3, suffix: 'a1b2c3', owner: 'inst1', image: 'reg/shop@sha256:1', gated: true });
  assert.equal(pod.metadata!.name, 'shop-run-3-a1b2c3');
  assert.equal(runPodName('shop', 3, 'a1b2c3'), 'shop-run-3-a1b2c3');
  const labels = pod.metadata!.labels!;
  assert.equal(labels['berth.owner'], 'inst1');
  assert.equal(labels['berth.app'], 'shop');
  assert.equal(labels['berth.oneoff'], '1');
  assert.equal(labels['berth.process'], 'run');
  assert.equal(labels[RUN_INDEX_LABEL], '3');
  assert.equal(labels['berth.managed'], undefined, 'not an instance of the formation');
  assert.equal(runSelector('inst1', 'shop'), 'berth.owner=inst1,berth.app=shop,berth.oneoff=1,berth.process=run');
  const spec = pod.spec!;
  assert.equal(spec.restartPolicy, 'Never');
  assert.equal(spec.activeDeadlineSeconds, 90);
  assert.equal(spec.automountServiceAccountToken, false);
  const [container] = spec.containers;
  assert.equal(container.image, 'reg/shop@sha256:1');
  assert.deepEqual([container.stdin, container.stdinOnce, container.tty], [true, true, false]);
  assert.deepEqual(container.resources?.limits, { memory: '256Mi' });
  const env = new Map(container.env!.map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.equal(env.get('DYNO'), 'run.3', 'DYNO is Berth\'s, not the config\'s');
  assert.equal(env.get('BERTH_PROCESS'), 'run');
  assert.equal(env.get('BERTH_PROCESS_TYPE'), 'worker');
  assert.ok(env.has('GREETING'), 'the release\'s config');
  assert.equal(env.get('TERM'), undefined);
  assert.equal(runPodFor(request({ tty: true }), { index: 1, suffix: 'x', owner: 'o', image: 'i', gated: true }).spec!.containers[0].env!.find((e) => e.name === 'TERM')?.value, 'xterm-256color');
});

test('the command is argv: $ is escaped from Kubernetes\' $(VAR) expansion, gated or not', () => {
  const gated = runPodFor(request(), { index: 1, suffix: 'x', owner: 'o', image: 'i', gated: true }).spec!.containers[0].command!;
  assert.deepEqual(gated, ['/bin/sh', '-c', literal(GATE_SCRIPT), 'berth-run', '30', '100', 'sh', '-c', 'echo "$$(id)" $$HOME']);
  const plain = runPodFor(request({ command: ['/app/migrate', '$(SECRET)'] }), { index: 1, suffix: 'x', owner: 'o', image: 'i', gated: false }).spec!.containers[0].command!;
  assert.deepEqual(plain, ['/app/migrate', '$$(SECRET)']);
});

test('run.N numbers: the lowest one free, from a start', () => {
  assert.equal(freeRunIndex([]), 1);
  assert.equal(freeRunIndex([1, 2, 4]), 3);
  assert.equal(freeRunIndex([1, 2, 4], 3), 3);
  assert.equal(freeRunIndex([1, 2, 3], 2), 4);
});

test('the gate echoes probes with its PID, then becomes the command with its argv untouched and the rest of stdin', () => {
  const probe = gateProbe('abc123', 2);
  const argv = ['sh', '-c', 'printf "[%s]" "$@"; echo; cat; exit 5', 'x', 'two words', '$(touch /tmp/berth-gate-pwned)', '*'];
  const res = spawnSync('/bin/sh', ['-c', GATE_SCRIPT, 'berth-run', '24', '80', ...argv], { input: `${gateProbe('abc123', 1)}\n${probe}\ngo\nrest of input\n`, encoding: 'utf8' });
  assert.equal(res.status, 5, res.stderr);
  const first = gateEcho(res.stdout, gateProbe('abc123', 1));
  const echo = gateEcho(res.stdout, probe);
  assert.ok(first && echo, res.stdout);
  assert.ok(echo.end > first.end);
  assert.equal(echo.pid, first.pid);
  assert.equal(res.stdout.slice(echo.end), '[two words][$(touch /tmp/berth-gate-pwned)][*]\nrest of input\n');
  assert.equal(gateEcho(res.stdout, gateProbe('abc123', 3)), null);
  assert.equal(gateEcho(`${probe}\r\n`, probe), null, 'a TTY\'s own echo of the probe is not the gate\'s');
});
