// The placement rule and the installer's task runner, without machines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseHost, noRoomReason, type HostLoad } from '../src/placement/index.ts';
import { runTasks, CommandFailed, type Task, type TaskContext, type TaskReport } from '../installer/task.ts';

const host = (name: string, over: Partial<HostLoad> = {}): HostLoad =>
  ({ name, healthy: true, memoryMB: 4096, reservedMB: 0, instances: 0, siblings: 0, ...over });

test('placement: a host without an instance of the app wins over one with, even when busier', () => {
  assert.equal(chooseHost([host('a', { siblings: 1 }), host('b', { instances: 9 })], null), 'b');
});

test('placement: down or draining hosts and hosts without room are skipped', () => {
  const hosts = [host('a', { healthy: false }), host('b', { reservedMB: 4000 }), host('c', { siblings: 2, reservedMB: 1000 })];
  assert.equal(chooseHost(hosts, 512), 'c');
  assert.equal(chooseHost(hosts, 4000), null);
  assert.match(noRoomReason(hosts, 4000), /no healthy host has 4000 MB free \(the most any has is 3096 MB\)/);
  assert.match(noRoomReason([host('a', { healthy: false })], null), /no healthy host/);
});

test('placement: ties go to fewer instances, then more free memory, then the name', () => {
  assert.equal(chooseHost([host('a', { instances: 2 }), host('b', { instances: 1 })], null), 'b');
  assert.equal(chooseHost([host('a', { reservedMB: 100 }), host('b')], null), 'b');
  assert.equal(chooseHost([host('b'), host('a')], null), 'a');
  assert.equal(chooseHost([host('a', { memoryMB: null }), host('b')], null), 'a', 'unknown memory counts as plenty');
});

function fakeHost(): { ctx: TaskContext; files: Map<string, string> } {
  const files = new Map<string, string>();
  const ctx: TaskContext = {
    host: 'test', vars: {}, checkOnly: false,
    async run(cmd, opts) {
      const result = cmd === 'false' ? { code: 1, stdout: '', stderr: 'boom' } : { code: 0, stdout: '', stderr: '' };
      if (result.code !== 0 && !opts?.allowFail) throw new CommandFailed(cmd, result);
      return result;
    },
  };
  return { ctx, files };
}

function fileTask(files: Map<string, string>, name: string): Task {
  return { name, check: async () => files.has(name), apply: async () => { files.set(name, 'x'); } };
}

test('runner: changed, then ok on the second run; --check applies nothing', async () => {
  const { ctx, files } = fakeHost();
  const tasks = [fileTask(files, 'one'), fileTask(files, 'two')];
  const check: TaskReport[] = [];
  await runTasks(tasks, { ...ctx, checkOnly: true }, (l) => check.push(l));
  assert.deepEqual(check.map((l) => l.status), ['would-change', 'would-change']);
  assert.equal(files.size, 0);
  const first: TaskReport[] = [];
  assert.equal((await runTasks(tasks, ctx, (l) => first.push(l))).changed, 2);
  const second: TaskReport[] = [];
  const summary = await runTasks(tasks, ctx, (l) => second.push(l));
  assert.deepEqual(second.map((l) => l.status), ['ok', 'ok']);
  assert.deepEqual(summary, { ok: 2, changed: 0, wouldChange: 0, failed: 0, succeeded: true });
});

test('runner: a failing command stops the run and reports command, output and hint; an apply that does not stick fails', async () => {
  const { ctx, files } = fakeHost();
  const failing: Task = { name: 'breaks', hint: 'fix it', check: async () => false, apply: async (c) => { await c.run('false'); } };
  const lines: TaskReport[] = [];
  const summary = await runTasks([failing, fileTask(files, 'after')], ctx, (l) => lines.push(l));
  assert.equal(summary.succeeded, false);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].detail, 'command: false\nexit code: 1\noutput:\nboom\nhint: fix it');
  const noop: Task = { name: 'noop', check: async () => false, apply: async () => {} };
  const more: TaskReport[] = [];
  await runTasks([noop], ctx, (l) => more.push(l));
  assert.equal(more[0].status, 'failed');
  assert.match(more[0].detail!, /check still finds/);
});
