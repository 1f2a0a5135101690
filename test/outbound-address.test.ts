// Which addresses alert webhooks may reach (src/shared/outbound-address.ts): pure, no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutboundPolicy, addressKind, parseAllowList } from '../src/shared/outbound-address.ts';

test('every special-purpose range has its kind; public unicast is public', () => {
  const cases: [string, string][] = [
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'],
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['::1', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'],
    ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['fc00::1', 'private'], ['fd12:3456::1', 'private'],
    ['100.64.0.1', 'shared (CGNAT)'], ['100.127.255.255', 'shared (CGNAT)'],
    ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'],
    ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'], ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped IPv6'], ['::ffff:7f00:1', 'IPv4-mapped IPv6'], ['::ffff:8.8.8.8', 'IPv4-mapped IPv6'],
    ['64:ff9b::7f00:1', 'IPv4/IPv6 translation'], ['2002:7f00:1::', 'IPv4/IPv6 translation'], ['2001:0:4136:e378::1', 'IPv4/IPv6 translation'],
    ['192.0.2.1', 'documentation'], ['2001:db8::1', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['240.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'], ['192.0.0.8', 'reserved'], ['::127.0.0.1', 'reserved'],
    ['fec0::1', 'reserved'], ['4000::1', 'reserved'], ['100::1', 'reserved'],
    ['8.8.8.8', 'public'], ['1.1.1.1', 'public'], ['172.15.255.255', 'public'], ['172.32.0.1', 'public'],
    ['100.63.255.255', 'public'], ['100.128.0.1', 'public'], ['2606:4700:4700::1111', 'public'],
  ];
  for (const [ip, kind] of cases) assert.equal(addressKind(ip), kind, ip);
});

test('the default policy refuses every non-public address and anything that is not a plain IP', () => {
  const policy = new OutboundPolicy();
  for (const ip of ['127.0.0.1', '::1', '10.0.0.1', '169.254.169.254', '::ffff:127.0.0.1', 'fe80::1%eth0', 'localhost', '']) {
    const verdict = policy.check(ip, 80);
    assert.equal(verdict.allowed, false, ip);
  }
  assert.deepEqual(policy.check('8.8.8.8', 443), { allowed: true });
  const refused = policy.check('127.0.0.1', 2019);
  assert.ok(!refused.allowed && refused.kind === 'loopback' && /127\.0\.0\.1 is a loopback address/.test(refused.reason));
});

test('this machine: its public address only on the router ports; Berth\'s own listeners never, even when allow-listed', () => {
  const policy = new OutboundPolicy({
    allow: parseAllowList('127.0.0.0/8, 203.0.113.0/24'),
    ownAddresses: () => ['127.0.0.1', '::1', '198.51.100.7', '8.8.4.4'],
    ownPorts: [7070, 5000],
    routerPorts: [80, 443],
  });
  assert.equal(policy.check('8.8.4.4', 443).allowed, true, 'an app hosted here, through the router');
  const ownPublic = policy.check('8.8.4.4', 22);
  assert.ok(!ownPublic.allowed && ownPublic.kind === 'this host');
  for (const [ip, port] of [['8.8.4.4', 7070], ['127.0.0.1', 7070], ['127.0.0.9', 5000], ['0.0.0.0', 7070], ['::ffff:127.0.0.1', 5000], ['::1', 7070]] as const) {
    const verdict = policy.check(ip, port);
    assert.ok(!verdict.allowed && verdict.kind === "Berth's own service", `${ip}:${port}`);
  }
  assert.equal(policy.check('127.0.0.1', 9000).allowed, true, 'allow-listed loopback, not one of Berth\'s ports');
  assert.equal(policy.check('203.0.113.9', 80).allowed, true, 'allow-listed documentation range');
  assert.equal(policy.check('10.0.0.1', 80).allowed, false, 'not allow-listed');
});

test('an exact ADDRESS:PORT entry opens one listener, and only that one', () => {
  const policy = new OutboundPolicy({ allow: parseAllowList('127.0.0.1:7070,[::1]:9000'), ownPorts: [7070, 9000] });
  assert.equal(policy.check('127.0.0.1', 7070).allowed, true);
  assert.equal(policy.check('0:0:0:0:0:0:0:1', 9000).allowed, true, 'any spelling of the address');
  assert.equal(policy.check('127.0.0.1', 7071).allowed, false);
  assert.equal(policy.check('127.0.0.2', 7070).allowed, false);
});

test('allow-list entries: CIDRs, single addresses and endpoints; anything else stops the server with a clear message', () => {
  const allow = parseAllowList(' 10.1.0.0/16 ,fd00::/8,192.168.5.7,::1,127.0.0.1:9000,');
  assert.deepEqual(allow.text, ['10.1.0.0/16', 'fd00::/8', '192.168.5.7', '::1', '127.0.0.1:9000']);
  assert.equal(allow.ranges.check('10.1.200.3', 'ipv4'), true);
  assert.equal(allow.ranges.check('192.168.5.8', 'ipv4'), false);
  assert.equal(parseAllowList(undefined).text.length, 0);
  for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/x', 'fd00::/129', '1.2.3.4:70000', '10.0.0/8']) {
    assert.throws(() => parseAllowList(bad), new RegExp(`BERTH_WEBHOOK_ALLOW: "${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`), bad);
  }
});
