// The server starts itself again under glibc malloc tunables (src/server/memory-settings.ts): when, with what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MALLOC_TUNABLES, sameCommand, tunedEnvironment } from '../src/server/memory-settings.ts';

test('the tunables are added once, beside an admin\'s other tunables, never over their malloc ones', () => {
  assert.equal(tunedEnvironment({ PATH: '/bin' }, 'linux')!.GLIBC_TUNABLES, MALLOC_TUNABLES);
  assert.equal(tunedEnvironment({ PATH: '/bin' }, 'linux')!.PATH, '/bin');
  assert.equal(tunedEnvironment({ GLIBC_TUNABLES: 'glibc.rtld.nns=8' }, 'linux')!.GLIBC_TUNABLES, `glibc.rtld.nns=8:${MALLOC_TUNABLES}`);
  // After the re-exec (or chosen by an admin): nothing to do, so no loop.
  assert.equal(tunedEnvironment({ GLIBC_TUNABLES: MALLOC_TUNABLES }, 'linux'), null);
  assert.equal(tunedEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' }, 'linux'), null);
  assert.equal(tunedEnvironment({}, 'darwin'), null);
});

test('the same command again: Node flags and script for the bundle, the executable\'s own argv for dist/berth', () => {
  assert.deepEqual(sameCommand('/opt/node', ['--max-semi-space-size=1'], ['/opt/node', '/srv/dist/berth-server.mjs'], false),
    ['/opt/node', '--max-semi-space-size=1', '/srv/dist/berth-server.mjs']);
  // Node repeats the executable's path as argv[1]; its flags come from inside it.
  assert.deepEqual(sameCommand('/usr/bin/berth', ['--max-semi-space-size=1'], ['/usr/bin/berth', '/usr/bin/berth', 'server'], true),
    ['/usr/bin/berth', 'server']);
});
