// Small pure rules of the push pipeline and the converger, checked directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBuildArgs } from '../src/pipeline/build-settings.ts';
import { containerPortFor, shellCommand } from '../src/releases/converge.ts';
import { formationForProcesses } from '../src/releases/formation.ts';

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
