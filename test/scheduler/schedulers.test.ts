// Which scheduler runs which app, and the errors users get for names this installation lacks (pure: no engine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Schedulers } from '../../src/scheduler/schedulers.ts';
import { defaultSchedulerName } from '../../src/scheduler/wiring.ts';
import { BerthError } from '../../src/shared/errors.ts';
import type { Scheduler, SchedulerName } from '../../src/scheduler/types.ts';

/** Only the name matters to the fleet's selection logic; calling anything else is a test failure. */
const named = (name: SchedulerName): Scheduler => new Proxy({ name } as Scheduler, {
  get: (target, key) => (key in target ? (target as never)[key] : () => { throw new Error(`unexpected call: ${String(key)}`); }),
});

const apps = new Map([['shop', 'k3s'], ['blog', 'docker']]);

test('apps run on the scheduler the database names; apps it does not know are the Docker scheduler\'s', () => {
  const fleet = new Schedulers({ available: [named('docker'), named('k3s')], schedulerOf: (a) => apps.get(a), defaultName: () => 'k3s' });
  assert.equal(fleet.forApp('shop').name, 'k3s');
  assert.equal(fleet.forApp('blog').name, 'docker');
  assert.equal(fleet.forApp('orphan').name, 'docker');
  assert.equal(fleet.defaultName(), 'k3s');
  assert.deepEqual(fleet.names(), ['docker', 'k3s']);
});

test('an unknown name, a known one this installation lacks, and a non-string are clear 422s', () => {
  const fleet = new Schedulers({ available: [named('docker')], schedulerOf: () => undefined, defaultName: () => 'k3s' });
  assert.equal(fleet.defaultName(), 'docker', 'a default that is not set up falls back to docker');
  const refused = (name: unknown) => {
    try { fleet.get(name); } catch (err) { assert.ok(err instanceof BerthError); assert.equal(err.status, 422); return err.message; }
    assert.fail(`${String(name)} was accepted`);
  };
  assert.match(refused('k3s'), /not set up on this installation \(available: docker\)/);
  assert.match(refused('swarm'), /Unknown scheduler "swarm": expected one of docker/);
  assert.match(refused({ toString: () => 'docker' }), /Unknown scheduler/);
  assert.match(refused('__proto__'), /Unknown scheduler/);
});

test('the installation default: BERTH_DEFAULT_SCHEDULER, else k3s with a cluster, else docker; typos stop the server', () => {
  assert.equal(defaultSchedulerName(false, {}), 'docker');
  assert.equal(defaultSchedulerName(true, {}), 'k3s');
  assert.equal(defaultSchedulerName(true, { BERTH_DEFAULT_SCHEDULER: 'docker' }), 'docker');
  assert.throws(() => defaultSchedulerName(true, { BERTH_DEFAULT_SCHEDULER: 'k8s' }), /must be one of docker, k3s/);
});
