// The pure rules of review apps: the app name a branch gets (attacker input in, a plain app name out), which
// branch names are accepted, which parents can have review apps, and which refs the git layer may delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGitBranchName, MAX_PARENT_NAME, reviewAppName, reviewExpiresAt, reviewParentProblem } from '../src/pipeline/review-names.ts';
import { reviewBranch } from '../src/pipeline/review-pushes.ts';
import { isPlainRepoName } from '../src/git/repos.ts';
import { checkHostname } from '../src/shared/validation.ts';

const HOSTILE = [
  'feature/x', 'Feature/X', 'feature-x', '$(touch pwned)', '$(touch${IFS}pwned)', '`id`', 'a;rm -rf /', "x'\"<>|&", '{caddy}.{http.request.host}',
  'ünïcödé', '日本語', '___', '-', 'a'.repeat(255), `${'long-branch-'.repeat(10)}tail`, 'xn--80ak6aa92e', 'HEAD', '%2e%2e/%2e%2e',
  '\u202eevil', 'a/b/c/d/e/f', 'UPPER_and_lower.1.2',
];

test('every branch becomes a plain app name of at most 30 characters under its parent, usable as a hostname', () => {
  for (const parent of ['ab', 'shop', 'a'.repeat(MAX_PARENT_NAME)]) {
    for (const branch of HOSTILE) {
      const name = reviewAppName(parent, branch);
      assert.ok(name.startsWith(`${parent}--`), `${name} starts with its parent`);
      assert.ok(name.length <= 30, `${JSON.stringify(branch)} → ${name} (${name.length})`);
      assert.ok(isPlainRepoName(name), `${name} is a plain repository name`);
      assert.match(name.slice(parent.length + 2), /^[a-z0-9]+(-[a-z0-9]+)*$/, `${name}: no dash at either end, no double dash after the parent's`);
      assert.equal(checkHostname(`${name}.example.com`), `${name}.example.com`);
    }
  }
});

test('short branches read as themselves; long and empty slugs end in a hash of the whole branch', () => {
  assert.equal(reviewAppName('shop', 'feature/x'), 'shop--feature-x');
  assert.equal(reviewAppName('shop', 'Feature/X'), 'shop--feature-x', 'the same slug: the second push is refused as a collision');
  assert.equal(reviewAppName('shop', '$(touch${IFS}pwned)'), 'shop--touch-ifs-pwned');
  const long1 = reviewAppName('shop', `${'long-branch-'.repeat(10)}one`);
  const long2 = reviewAppName('shop', `${'long-branch-'.repeat(10)}two`);
  assert.notEqual(long1, long2, 'branches sharing a long beginning get different names');
  assert.match(long1, /^shop--long-branch-long-[0-9a-f]{6}$/);
  assert.match(reviewAppName('shop', '日本語'), /^shop--[0-9a-f]{6}$/);
  assert.notEqual(reviewAppName('shop', '日本語'), reviewAppName('shop', '中文'));
  assert.equal(reviewAppName('shop', 'feature/x'), reviewAppName('shop', 'feature/x'), 'stable across pushes');
});

test('branch names are checked like git checks them', () => {
  for (const ok of ['feature/x', '$(touch${IFS}pwned)', '{caddy}.{http.request.host}', 'ünïcödé', 'a'.repeat(255), 'HEAD', "x'\"<>|&"]) assert.ok(isGitBranchName(ok), ok);
  for (const bad of ['', '@', 'a..b', 'a b', 'a\nb', 'a\u0000b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', 'a@{1}', 'a//b',
    '/a', 'a/', 'a.', '.a', 'a/.b', 'a.lock', 'a/b.lock/c', '-a', 'a'.repeat(256), 'é'.repeat(128), 'a\u007fb']) {
    assert.ok(!isGitBranchName(bad), JSON.stringify(bad));
  }
});

test('parents too long for a review name, and "xn" (IDNA\'s prefix), cannot have review apps', () => {
  assert.equal(reviewParentProblem('a'.repeat(MAX_PARENT_NAME)), null);
  assert.match(reviewParentProblem('a'.repeat(MAX_PARENT_NAME + 1)) ?? '', /too long for review apps/);
  assert.match(reviewParentProblem('xn') ?? '', /xn--/);
  assert.equal(reviewParentProblem('xn-shop'), null);
});

test('only branches other than the deploy branch are review branches; tags and other refs are not', () => {
  const app = { deployBranch: 'main' };
  assert.equal(reviewBranch(app, 'refs/heads/feature/x'), 'feature/x');
  assert.equal(reviewBranch(app, 'refs/heads/main'), null);
  assert.equal(reviewBranch(app, 'refs/tags/v1'), null);
  assert.equal(reviewBranch(app, 'refs/notes/commits'), null);
  assert.equal(reviewBranch({ deployBranch: 'release/1' }, 'refs/heads/main'), 'main');
});

test('a review app expires its time to live after its last push', () => {
  assert.equal(reviewExpiresAt('2026-12-03T12:00:00.000Z', 3600).toISOString(), '2026-12-03T13:00:00.000Z');
});
