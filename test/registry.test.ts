// RegistryClient against a real private registry (docker-registry) and the real Docker engine:
// push returns the digest the registry stored; prune deletes old tags there and on the engine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DockerBuilder } from '../src/builder/index.ts';
import { RegistryClient } from '../src/registry/index.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';

const SOCKET = process.env.BERTH_DOCKER_SOCKET ?? '/var/run/docker.sock';
const APP = `regtest-${process.pid}`;
const STACKS = { node: 'berth/node:24', python: 'berth/python:3', go: 'berth/go:1', static: 'berth/node:24', generic: 'berth/node:24' };

let registry: TestRegistry;
let client: RegistryClient;
let work: string;
const containers: string[] = [];

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const ref = (tag: string) => `${registry.address}/${APP}:${tag}`;
const hasLocalImage = (reference: string) => {
  try {
    docker('image', 'inspect', reference);
    return true;
  } catch {
    return false;
  }
};

async function registryTags(): Promise<string[]> {
  const res = await fetch(`http://${registry.address}/v2/${APP}/tags/list`);
  const body = (await res.json()) as { tags?: string[] | null };
  return [...(body.tags ?? [])].sort();
}

/** A one-file image per version, built by Berth's builder from a git archive like a push would be. */
async function buildVersion(version: string): Promise<void> {
  const repo = fs.mkdtempSync(path.join(work, 'repo-'));
  fs.writeFileSync(path.join(repo, 'Dockerfile'), 'FROM berth/node:24\nCOPY version.txt /version.txt\nCMD ["cat", "/version.txt"]\n');
  fs.writeFileSync(path.join(repo, 'version.txt'), `${APP} ${version}\n`);
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', version);
  const builder = new DockerBuilder({ socketPath: SOCKET, stacks: STACKS, extraCaFile: null });
  await builder.build({
    app: APP, source: spawn('git', ['-C', repo, 'archive', '--format=tar', 'HEAD']).stdout,
    tag: ref(version), buildArgs: {}, dockerfilePath: 'Dockerfile', progress: () => {},
  });
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-registry-test-'));
  registry = await startRegistry();
  client = new RegistryClient({ socketPath: SOCKET, registry: registry.address });
  for (const version of ['v1', 'v2', 'v3']) await buildVersion(version);
  docker('tag', ref('v3'), ref('v4')); // v4: the same image as v3, as when a release reuses a build
});

after(async () => {
  for (const id of containers) docker('rm', '-f', id);
  for (const tag of ['v1', 'v2', 'v3', 'v4']) if (hasLocalImage(ref(tag))) docker('rmi', ref(tag));
  await registry?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('push returns the manifest digest, the same the engine and the registry report', async () => {
  const lines: string[] = [];
  const { digest } = await client.push(ref('v1'), (line) => lines.push(line));
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  const repoDigests = JSON.parse(docker('image', 'inspect', '-f', '{{json .RepoDigests}}', ref('v1'))) as string[];
  assert.ok(repoDigests.includes(`${registry.address}/${APP}@${digest}`), `RepoDigests ${repoDigests.join(', ')} lack ${digest}`);
  const head = await fetch(`http://${registry.address}/v2/${APP}/manifests/v1`, {
    method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  assert.equal(head.headers.get('docker-content-digest'), digest);
  assert.ok(lines.some((line) => line.includes(digest)), `progress shows the digest:\n${lines.join('\n')}`);
  assert.ok(!lines.some((line) => /\[=*>?\s*\]/.test(line)), 'progress bars are left out');
});

test('pushing a tag the engine does not have fails clearly', async () => {
  await assert.rejects(client.push(ref('v404'), () => {}), /no such image|does not exist|An image does not exist/i);
});

test('prune deletes the tags not kept, except those sharing a manifest with a kept one', async () => {
  for (const tag of ['v2', 'v3', 'v4']) await client.push(ref(tag), () => {});
  assert.deepEqual(await registryTags(), ['v1', 'v2', 'v3', 'v4']);

  // v3 is the same manifest as the kept v4: deleting it would delete v4 too, so it stays.
  assert.deepEqual(await client.prune(APP, ['v2', 'v4']), ['v1']);
  assert.deepEqual(await registryTags(), ['v2', 'v3', 'v4']);
  assert.equal(hasLocalImage(ref('v1')), false, 'the local tag of a pruned image is removed');
  assert.equal(hasLocalImage(ref('v2')), true);

  // A container still uses v2's image: the registry copy goes, the engine keeps the image it needs.
  containers.push(docker('create', ref('v2')));
  assert.deepEqual(await client.prune(APP, ['v4']), ['v2']);
  assert.deepEqual(await registryTags(), ['v3', 'v4']);
  assert.equal(hasLocalImage(ref('v2')), true, 'an image in use is not removed');
  assert.equal(hasLocalImage(ref('v4')), true);

  assert.deepEqual(await client.prune(APP, ['v4']), [], 'nothing left that can go');
  assert.deepEqual((await client.prune(APP, ['v1'])).sort(), ['v3', 'v4'], 'tags sharing a manifest go together');
  assert.deepEqual(await registryTags(), []);
});

test('prune of an app the registry has never seen deletes nothing', async () => {
  assert.deepEqual(await client.prune(`${APP}-unknown`, []), []);
});
