// The Kubernetes scheduler itself on the real test cluster, for what the conformance suite (through a Berth
// server) does not reach: router writes, worker processes, an app without a release, stats from the kubelet,
// pod events, one instance's log from a time on, one-offs (exit code, deadline, cleanup; `berth run` of an
// image without a shell), a canary's own Deployment (listed, routed, one that fails, removed), and refusals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaddyRouter } from '../../src/router/caddy/index.ts';
import type { AppRoute, Router } from '../../src/router/types.ts';
import { createClusterScheduler } from '../../src/scheduler/wiring.ts';
import type { DeployRequest, ReleaseToRun, Scheduler } from '../../src/scheduler/types.ts';
import type { LogLine, RuntimeEvent } from '../../src/runtime/types.ts';
import { startCaddy, type TestCaddy } from '../support/caddy.ts';
import { eventually, uniqueName, viaRouter, TEST_IMAGE } from '../support/berth.ts';
import { clusterApi, deleteNamespace, leftovers, testKubeconfig, testNamespace } from './k8s-cluster.ts';
import { CanaryTraffic, countOf } from '../support/canary-traffic.ts';

const cluster = testKubeconfig();

/**
 * An image of one static program and nothing else (no /bin/sh): it prints its arguments, $GREETING and a line
 * on stderr, then copies stdin to stdout and exits 3.
 */
function buildShelllessImage(): { id: string; ref: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-noshell-'));
  fs.writeFileSync(path.join(dir, 'tool.c'), [
    '#include <stdio.h>', '#include <stdlib.h>', '#include <unistd.h>',
    'int main(int argc, char **argv) {',
    '  for (int i = 1; i < argc; i++) printf("arg %s\\n", argv[i]);',
    '  const char *g = getenv("GREETING"); printf("env %s\\n", g ? g : "-"); fflush(stdout);',
    '  fprintf(stderr, "to stderr\\n"); fflush(stderr); sleep(1);',
    '  char buf[4096]; size_t n; while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);',
    '  return 3;', '}', '',
  ].join('\n'));
  execFileSync('gcc', ['-static', '-O2', '-o', path.join(dir, 'tool'), path.join(dir, 'tool.c')]);
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY tool /tool\n');
  const ref = `berth-test/noshell-${Math.random().toString(36).slice(2, 8)}:latest`;
  execFileSync('docker', ['build', '-q', '-t', ref, dir], { stdio: 'ignore' });
  const id = execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', ref], { encoding: 'utf8' }).trim();
  return { id, ref, dir };
}

/** The router, counting the writes the scheduler asks for. */
class CountingRouter implements Router {
  writes = 0;
  readonly inner: Router;
  constructor(inner: Router) { this.inner = inner; }
  ensureBase() { return this.inner.ensureBase(); }
  setRoute(route: AppRoute) { this.writes++; return this.inner.setRoute(route); }
  removeRoute(app: string) { this.writes++; return this.inner.removeRoute(app); }
  listRoutes() { return this.inner.listRoutes(); }
}

describe('Kubernetes scheduler on the test cluster', { skip: cluster.skip }, () => {
  const kubeconfig = cluster.path!;
  const namespace = testNamespace('berth-k8s');
  const owner = `t${Math.random().toString(36).slice(2, 8)}`;
  const app = uniqueName('k8s');
  let caddy: TestCaddy;
  let router: CountingRouter;
  let scheduler: Scheduler;
  const imageId = execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', TEST_IMAGE], { encoding: 'utf8' }).trim();
  const release = (version: number, config: Record<string, string> = {}): ReleaseToRun => ({ version, imageId, imageRef: TEST_IMAGE, config, containerPort: null });
  const request = (r: ReleaseToRun | null, web = 1, worker = 0): DeployRequest => ({
    app, release: r, hostnames: [`${app}.localhost`], health: { path: '/', timeoutSec: 10 },
    formation: [
      { type: 'web', quantity: web, memoryMB: 64, cpus: 0.25, command: null, generation: 0 },
      { type: 'worker', quantity: worker, memoryMB: null, cpus: null, command: 'echo "worker of $BERTH_RELEASE"; exec sleep 3600', generation: 0 },
    ],
  });

  /**
   * Routed to the NodePort here (no app DNS given): a connection Caddy keeps alive stays with the old pod through
   * its drain (1 s), so after a deploy the new release's answer is awaited, not assumed on the first request
   * (CI: v1's answer after v2's deploy returned).
   */
  const servedBy = (answer: RegExp) => eventually(`an answer matching ${answer}`, async () =>
    answer.test((await viaRouter(caddy.httpPort, `${app}.localhost`)).body), 15_000);

  before(async () => {
    caddy = await startCaddy();
    const caddyRouter = new CaddyRouter({ adminUrl: caddy.adminUrl, httpPort: caddy.httpPort, httpsPort: caddy.httpsPort });
    await caddyRouter.ensureBase();
    router = new CountingRouter(caddyRouter);
    scheduler = (await createClusterScheduler({
      dataDir: '/nonexistent', router, owner, dockerSocket: '/var/run/docker.sock', registry: '127.0.0.1:5000', registryAdvertise: '127.0.0.1:5000',
      drainSec: 1, stopTimeoutSec: 2, log: () => {}, env: { BERTH_KUBECONFIG: kubeconfig, BERTH_K8S_NAMESPACE: namespace },
    }))!;
  });

  after(async () => {
    await scheduler?.destroy(app).catch(() => {});
    await caddy?.stop();
    await deleteNamespace(kubeconfig, namespace);
  });

  test('an app without a release runs nothing and answers 503; unknown apps destroy without error', async () => {
    await scheduler.deploy(request(null));
    assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`)).status, 503);
    assert.deepEqual(await scheduler.instances(app), []);
    await scheduler.destroy('never-was-here');
  });

  test('web and worker: one route write for the first release, none for the next; the worker runs its Procfile command', async () => {
    const lines: string[] = [];
    router.writes = 0;
    await scheduler.deploy(request(release(1), 1, 1), (l) => lines.push(l));
    assert.equal(router.writes, 1, 'the first release points the route at the NodePort');
    assert.match((await viaRouter(caddy.httpPort, `${app}.localhost`)).body, /hello from v1 /);
    assert.ok(lines.some((l) => /Pushing the image to 127\.0\.0\.1:5000\//.test(l)), lines.join('\n'));
    const instances = await scheduler.instances(app);
    assert.deepEqual(instances.map((i) => [i.process, i.index, i.release, i.state]).sort(), [['web', 1, 1, 'running'], ['worker', 1, 1, 'running']]);
    const web = instances.find((i) => i.process === 'web')!;
    assert.equal(web.memoryMB, 64);
    assert.equal(web.cpus, 0.25);
    assert.match(web.image, /^127\.0\.0\.1:5000\/.+:v1@sha256:[0-9a-f]{64}$/);
    assert.deepEqual(await scheduler.apps(), [app]);

    const worker = instances.find((i) => i.process === 'worker')!;
    const logs: LogLine[] = [];
    for await (const line of scheduler.logs(app, { tail: 10, follow: false })) logs.push(line);
    assert.ok(logs.some((l) => l.process === 'worker' && l.line === 'worker of v1'), JSON.stringify(logs));

    router.writes = 0;
    await scheduler.deploy(request(release(2, { GREETING: 'two' }), 1, 1));
    assert.equal(router.writes, 0, 'a release writes nothing to the router');
    await servedBy(/greeting=two/);
    assert.ok(!(await scheduler.instances(app)).some((i) => i.id === worker.id && i.state === 'running'), 'the worker was replaced too');
  });

  test('a registry image whose tag is gone (pruned) is pushed again from the local image', async () => {
    const lines: string[] = [];
    const pruned = { ...release(3, { GREETING: 'two' }), imageRef: `127.0.0.1:5000/${app}:v3` };
    await scheduler.deploy(request(pruned, 1, 1), (l) => lines.push(l));
    assert.ok(lines.includes(`Pushing the image to 127.0.0.1:5000/${app}:v3 for the cluster.`), lines.join('\n'));
    await servedBy(/hello from v3 /);
  });

  test('a failed health check: the probe failures stream as progress, the cause is named, the running release stays', async () => {
    const lines: string[] = [];
    // 8 s: long enough for the kubelet's probe failures to come back as events even on a loaded machine.
    const failing = { ...request(release(4, { FAIL_HEALTH: '1' }), 1, 1), health: { path: '/', timeoutSec: 8 } };
    await assert.rejects(scheduler.deploy(failing, (l) => lines.push(l)), (err: Error & { status?: number; code?: string }) => {
      assert.equal(err.status, 422);
      assert.equal(err.code, 'release_failed');
      // The kubelet's probe-failure events name the answer (500) when they arrive in time; on a loaded machine
      // they may come after the verdict, so they are checked for their form, not required.
      assert.match(err.message, /web pod .*: failed its health check: GET \/ did not succeed within 8 s( \(Readiness probe failed: (HTTP probe failed with statuscode: 500|Get "[^"]+": dial tcp [\d.]+:\d+: connect: connection refused)\))?$/);
      return true;
    });
    // A probe may come before the app listens (connection refused) on a loaded machine; after that, the 500.
    for (const probe of lines.filter((l) => /^web pod \S+: Readiness probe/.test(l))) {
      assert.match(probe, /^web pod \S+: Readiness probe failed: (HTTP probe failed with statuscode: 500|Get "http:\/\/[\d.]+:\d+\/": dial tcp [\d.]+:\d+: connect: connection refused)$/);
    }
    assert.ok(lines.includes('The previous release is back in place.'), lines.join('\n'));
    assert.match((await viaRouter(caddy.httpPort, `${app}.localhost`)).body, /hello from v3 /);
    assert.deepEqual((await scheduler.instances(app)).map((i) => i.release).sort(), [3, 3], 'only v3 runs (web and worker)');
  });

  test('a size no node has room for fails at once, naming it, and changes nothing', async () => {
    const huge = request(release(3, { GREETING: 'two' }), 1, 1);
    huge.formation[1] = { ...huge.formation[1], memoryMB: 200 * 1024 };
    const started = Date.now();
    await assert.rejects(scheduler.deploy(huge), /worker pod .*: cannot be scheduled: .*Insufficient memory/);
    assert.ok(Date.now() - started < 30_000, 'without waiting out the timeout');
    const worker = (await scheduler.instances(app)).filter((i) => i.process === 'worker');
    assert.deepEqual(worker.map((i) => [i.memoryMB, i.state]), [[null, 'running']]);
  });

  test('a canary beside the release: its own Deployment, listed as its release\'s, routed by its gray match; one that never gets ready fails and leaves nothing', async () => {
    const stable = request(release(3, { GREETING: 'two' }), 1, 1);
    const canaryObjects = async () => (await leftovers(kubeconfig, namespace, app)).filter((name) => name.includes('canary'));
    const traffic = new CanaryTraffic(caddy.httpPort, `${app}.localhost`);
    try {
      const lines: string[] = [];
      const failing = { ...stable, health: { path: '/', timeoutSec: 6 }, canary: { release: release(40, { FAIL_HEALTH: '1' }), routing: { version: 40, weight: 50 } } };
      router.writes = 0;
      await assert.rejects(scheduler.deploy(failing, (l) => lines.push(l)), (err: Error & { status?: number; code?: string }) => {
        assert.equal(err.status, 422);
        assert.equal(err.code, 'release_failed');
        assert.match(err.message, /canary web pod \S+: failed its health check/);
        return true;
      });
      assert.ok(lines.includes('Removing it; the running release keeps serving.'), lines.join('\n'));
      assert.equal(router.writes, 0, 'the route is untouched');
      assert.deepEqual(await canaryObjects(), [], 'no canary pod, Deployment or Service left');
      assert.match((await viaRouter(caddy.httpPort, `${app}.localhost`)).body, /hello from v3 /);

      const gray = { ...stable, canary: { release: release(41), routing: { version: 41, weight: 0, header: { name: 'X-Canary', value: '1' } } } };
      await scheduler.deploy(gray);
      assert.equal(router.writes, 1, 'the split: one route write');
      assert.deepEqual((await scheduler.instances(app)).map((i) => `${i.process}.${i.index} v${i.release}`).sort(), ['web.1 v3', 'web.1 v41', 'worker.1 v3']);
      traffic.fresh();
      assert.equal(countOf(await traffic.many(20, 4, { 'X-Canary': '1' }), 'v41'), 20, 'the gray requests on the canary');
      assert.equal(countOf(await traffic.many(20, 4), 'v3'), 20, 'the others on the release');
      await scheduler.deploy(gray);
      assert.equal(router.writes, 1, 'an unchanged canary writes nothing');
      await scheduler.deploy(stable);
      assert.equal(router.writes, 2, 'without the canary: its split goes');
      traffic.fresh();
      assert.equal(countOf(await traffic.many(20, 4, { 'X-Canary': '1' }), 'v3'), 20);
      await eventually('the canary\'s objects gone after the drain', async () => (await canaryObjects()).length === 0, 30_000);
    } finally {
      traffic.close();
    }
  });

  test('stats come from the kubelet: CPU time and working set of each running pod', async () => {
    const reading = await eventually('a stats reading of web', async () => {
      const all = await scheduler.stats();
      return all.find((s) => s.app === app && s.process === 'web' && s.cpuNs > 0 && s.memoryBytes > 0);
    }, 30_000);
    assert.equal(reading.memoryLimitBytes, 64 * 1024 * 1024);
    assert.ok(reading.at > Date.now() - 120_000);
  });

  test('events: a crash is a die with its exit code, then a start; one instance\'s log follows from a time on', async () => {
    const abort = new AbortController();
    const events: RuntimeEvent[] = [];
    const watching = (async () => { for await (const e of scheduler.events(abort.signal)) events.push(e); })();
    // Once the replaced web pod has drained and gone, the crash request can only reach this one.
    const web = await eventually('a single web pod', async () => {
      const pods = (await scheduler.instances(app)).filter((i) => i.process === 'web');
      return pods.length === 1 && pods[0].state === 'running' ? pods[0] : undefined;
    });
    const since = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
    const logged: LogLine[] = [];
    const logAbort = new AbortController();
    const following = (async () => {
      for await (const line of scheduler.instanceLogs(web, { since, signal: logAbort.signal })) logged.push(line);
    })();
    await new Promise((r) => setTimeout(r, 1000)); // the watch is open
    try {
      assert.equal((await viaRouter(caddy.httpPort, `${app}.localhost`, '/crash')).body, 'bye');
      const died = await eventually(`a die event (seen: ${JSON.stringify(events)})`, async () => events.find((e) => e.action === 'die' && e.container === web.name), 30_000);
      assert.equal(died.exitCode, 1);
      assert.equal(died.process, 'web');
      await eventually('a start event after it', async () => events.find((e) => e.action === 'start' && e.container === web.name && e.time >= died.time), 30_000);
      await eventually('the crash in the followed log', async () => logged.some((l) => l.line === 'crash requested'), 10_000);
      assert.ok(logged.every((l) => l.time >= since), 'nothing from before `since`');
    } finally {
      abort.abort();
      logAbort.abort();
      await watching;
      await following;
    }
  });

  test('one-offs: output and exit code; the deadline stops a hung one; nothing is left behind', async () => {
    const lines: string[] = [];
    const code = await scheduler.runOnce({
      app, release: release(2, { GREETING: 'two' }), command: ['/bin/sh', '-c', 'echo "one-off $GREETING $BERTH_PROCESS"; exit 7'],
      env: { BERTH_PROCESS: 'run' }, memoryMB: 64, timeoutSec: 60,
    }, (l) => lines.push(l));
    assert.equal(code, 7);
    assert.ok(lines.includes('one-off two run'), lines.join('\n'));
    const started = Date.now();
    const hung: string[] = [];
    const hungCode = await scheduler.runOnce({ app, release: release(2), command: ['sleep', '300'], env: {}, memoryMB: null, timeoutSec: 3 }, (l) => hung.push(l));
    assert.notEqual(hungCode, 0);
    assert.ok(Date.now() - started < 60_000, 'stopped near its deadline');
    assert.ok(hung.some((l) => /timed out after 3 s/.test(l)), hung.join('\n'));
    const api = clusterApi(kubeconfig);
    await eventually('the one-off Jobs gone', async () =>
      (await api.batch.listNamespacedJob({ namespace, labelSelector: `berth.app=${app}` })).items.length === 0, 30_000);
  });

  test('config: one Secret per app, values never in a pod spec; keys of releases nothing runs any more are dropped', async () => {
    for (const [version, greeting] of [[5, 'five'], [6, 'six'], [7, 'seven']] as const) {
      await scheduler.deploy(request(release(version, { GREETING: greeting, ...(version === 6 ? { EXTRA: 'x' } : {}) }), 1, 1));
    }
    await servedBy(/greeting=seven/);
    const api = clusterApi(kubeconfig);
    const secrets = (await api.core.listNamespacedSecret({ namespace, labelSelector: `berth.app=${app}` })).items;
    assert.deepEqual(secrets.map((s) => s.metadata?.name), [`${app}-config`], 'no Secret per release');
    // The ReplicaSets keep two old templates (v5, v6): the keys of v2 (the one-offs) and v4 (the failed release) are
    // gone. v3's go with its ReplicaSet, which the controller removes about when v7's rollout completes: either way.
    const keys = Object.keys(secrets[0].data ?? {}).sort().filter((key) => !key.startsWith('v3.'));
    assert.deepEqual(keys, ['v5.GREETING', 'v6.EXTRA', 'v6.GREETING', 'v7.GREETING']);
    const deployments = (await api.apps.listNamespacedDeployment({ namespace, labelSelector: `berth.app=${app}` })).items;
    assert.ok(deployments.length === 2 && deployments.every((d) => !JSON.stringify(d).includes('seven')), 'the value stays in the Secret');
  });

  test('exec refuses pods that are not this installation\'s instances of the app; pods carry no API token', async () => {
    const api = clusterApi(kubeconfig);
    const foreign = `foreign-${owner}`;
    await api.core.createNamespacedPod({ namespace, body: {
      metadata: { name: foreign, labels: { 'berth.owner': 'someone-else', 'berth.managed': '1', 'berth.app': app, 'berth.process': 'web' } },
      spec: { containers: [{ name: 'app', image: 'k8s.gcr.io/pause:3.6' }] },
    } });
    try {
      const web = (await scheduler.instances(app)).find((i) => i.process === 'web')!;
      assert.ok(!(await scheduler.instances(app)).some((i) => i.id === foreign), 'another installation\'s pod is no instance');
      await assert.rejects(scheduler.exec({ ...web, id: foreign, name: foreign }, { command: ['id'], cols: 80, rows: 24 }), /not one of this Berth installation's/);
      await assert.rejects(scheduler.exec({ ...web, id: 'no-such-pod', name: 'no-such-pod' }, { command: ['id'], cols: 80, rows: 24 }), /not one of this Berth installation's/);
      // Another app's instance, asked for in this app's name (a terminal URL is per app).
      await assert.rejects(scheduler.exec({ ...web, app: 'other-app' }, { command: ['id'], cols: 80, rows: 24 }), /not one of this Berth installation's/);
      // The real one opens, and has no API token to use against the cluster.
      const session = await scheduler.exec(web, { command: ['/bin/sh', '-c', 'ls /var/run/secrets/kubernetes.io 2>&1; echo done-$((6*7))'], cols: 80, rows: 24 });
      let out = '';
      session.output.on('data', (d: Buffer) => { out += d; });
      await session.ended;
      await session.close();
      assert.match(out, /No such file or directory/);
      assert.match(out, /done-42/);
    } finally {
      await api.core.deleteNamespacedPod({ name: foreign, namespace, gracePeriodSeconds: 0 }).catch(() => {});
    }
  });

  test('berth run of an image without /bin/sh: the command runs as is, its argv untouched, stdin to its end, output from the pod\'s log', async () => {
    const bare = `${app}-bare`;
    const image = buildShelllessImage();
    try {
      const run = await scheduler.runAttached({
        app: bare, release: { version: 1, imageId: image.id, imageRef: image.ref, config: { GREETING: 'hi' }, containerPort: null },
        command: ['/tool', 'one', '$(GREETING) $HOME'], env: {}, memoryMB: null, timeoutSec: 60, tty: false, cols: 80, rows: 24,
      });
      assert.equal(run.name, 'run.1');
      let output = '';
      run.stdout.on('data', (d) => { output += d; });
      run.stderr.on('data', (d) => { output += d; });
      run.write(Buffer.from('piped in\n'));
      run.endInput();
      assert.equal(await run.exited, 3, output);
      // stdout and stderr meet in the log, in whichever order the runtime wrote them down.
      assert.deepEqual(output.split('\n').sort(), ['', 'arg $(GREETING) $HOME', 'arg one', 'env hi', 'piped in', 'to stderr'], output);
      assert.equal(output.replace('to stderr\n', ''), 'arg one\narg $(GREETING) $HOME\nenv hi\npiped in\n');
      assert.deepEqual((await scheduler.runs(bare)).filter((i) => i.state !== 'removing'), []);
    } finally {
      await scheduler.destroy(bare).catch(() => {});
      execFileSync('docker', ['rmi', '-f', image.ref], { stdio: 'ignore' });
      fs.rmSync(image.dir, { recursive: true, force: true });
    }
  });

  test('destroy removes the route and every object of the app (a canary\'s too), and waits for its pods', async () => {
    await scheduler.deploy({ ...request(release(7, { GREETING: 'seven' }), 1, 1), canary: { release: release(43), routing: { version: 43, weight: 10 } } });
    assert.ok((await leftovers(kubeconfig, namespace, app)).some((name) => name.startsWith(`deployment/${app}-web-canary`)), 'a canary runs');
    router.writes = 0;
    await scheduler.destroy(app);
    assert.deepEqual(await leftovers(kubeconfig, namespace, app), []);
    assert.ok(!(await router.listRoutes()).some((r) => r.app === app));
    assert.deepEqual(await scheduler.apps(), []);
  });
});
