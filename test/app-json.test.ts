// app.json (Heroku's and Dokku's manifest) as untrusted input: what is used, and clear errors for the rest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppJsonError, MAX_APP_JSON_BYTES, describeManifest, parseAppJson } from '../src/pipeline/app-json.ts';
import { formationForProcesses, withInitialFormation } from '../src/releases/formation.ts';

test('Dokku and Heroku scripts, formation with Heroku and Berth sizes, the web startup health check', () => {
  const manifest = parseAppJson(JSON.stringify({
    name: 'ignored', env: { SECRET: { generator: 'secret' } },
    scripts: { dokku: { predeploy: 'python manage.py collectstatic', postdeploy: 'curl -fsS https://hooks.example/deployed' }, postdeploy: { command: 'rake db:seed', size: 'standard-1X' } },
    formation: { web: { quantity: 2, size: 'Standard-2X' }, worker: { quantity: 1, size: '256M/0.5', max_parallel: 1 }, clock: {} },
    healthchecks: { web: [{ type: 'liveness', path: '/live' }, { name: 'ready', path: '/health', attempts: 3, timeout: 2, wait: 1, initialDelay: 4 }] },
  }));
  assert.deepEqual(manifest, {
    predeploy: 'python manage.py collectstatic',
    postdeployEveryRelease: 'curl -fsS https://hooks.example/deployed',
    postdeployFirstRelease: 'rake db:seed',
    formation: { web: { quantity: 2, memoryMB: 1024 }, worker: { quantity: 1, memoryMB: 256, cpus: 0.5 }, clock: {} },
    health: { path: '/health', timeoutSec: 4 + 3 * (2 + 1) },
  });
  assert.equal(describeManifest(manifest), 'app.json: predeploy script, postdeploy script (every release), postdeploy script (first release), ' +
    'initial formation for web, worker, clock, web health check /health within 13 s');
  assert.deepEqual(parseAppJson('{"scripts": {"predeploy": "bin/migrate"}, "healthchecks": {"web": [{"path": "/up"}]}}'),
    { predeploy: 'bin/migrate', postdeployEveryRelease: null, postdeployFirstRelease: null, formation: {}, health: { path: '/up', timeoutSec: null } });
  assert.equal(describeManifest(parseAppJson('{"name": "x"}')), null);
});

test('a broken app.json names the field that is wrong', () => {
  const broken: Array<[string, RegExp]> = [
    ['{"scripts": ', /not valid JSON/],
    ['[1, 2]', /must hold a JSON object/],
    ['{"scripts": "npm run x"}', /^scripts must be an object$/],
    ['{"scripts": {"dokku": {"predeploy": 7}}}', /scripts\.dokku\.predeploy must be a command string/],
    ['{"scripts": {"postdeploy": "  "}}', /scripts\.postdeploy is empty/],
    [`{"scripts": {"predeploy": "${'x'.repeat(5000)}"}}`, /longer than 4096/],
    ['{"scripts": {"predeploy": "a\\u0000b"}}', /NUL/],
    ['{"formation": {"Web!": {"quantity": 1}}}', /"Web!" is not a process type/],
    ['{"formation": {"web": {"quantity": "two"}}}', /formation\.web\.quantity must be a whole number from 0 to 1000/],
    ['{"formation": {"web": {"quantity": -1}}}', /formation\.web\.quantity/],
    ['{"formation": {"web": {"size": "huge"}}}', /formation\.web\.size: "huge" is not a size/],
    ['{"formation": {"web": 3}}', /formation\.web must be an object/],
    ['{"healthchecks": {"web": {"path": "/"}}}', /healthchecks\.web must be a list/],
    ['{"healthchecks": {"web": [{"path": "health"}]}}', /healthchecks\.web\[0\]\.path must start with "\/"/],
    ['{"healthchecks": {"web": [{"path": "/a b"}]}}', /visible ASCII/],
    ['{"healthchecks": {"web": [{"path": "/", "attempts": 0}]}}', /attempts must be a whole number from 1 to 100/],
    [JSON.stringify({ formation: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`p${i}`, {}])) }), /more than 50/],
    [JSON.stringify({ description: 'x'.repeat(MAX_APP_JSON_BYTES) }), /larger than 64 KB/],
  ];
  for (const [text, message] of broken) {
    assert.throws(() => parseAppJson(text), (err: Error) => err instanceof AppJsonError && message.test(err.message), text.slice(0, 80));
  }
});

test('app.json formation sets only the types a build adds, checked like ps:scale', () => {
  const running = [{ type: 'web', quantity: 3, memoryMB: null, cpus: null, command: 'old', generation: 2 }];
  const next = formationForProcesses(running, { web: 'node server.js', worker: 'node worker.js' });
  const initial = { web: { quantity: 1 }, worker: { quantity: 2, memoryMB: 512 }, clock: { quantity: 1 } };
  assert.deepEqual(withInitialFormation(next, running, initial, 10).map((f) => [f.type, f.quantity, f.memoryMB]),
    [['web', 3, null], ['worker', 2, 512]]);
  assert.throws(() => withInitialFormation(next, [], { worker: { quantity: 11 } }, 10), /At most 10 instances/);
  assert.throws(() => withInitialFormation(next, [], { web: { memoryMB: 4 } }, 10), /Memory must be/);
});
