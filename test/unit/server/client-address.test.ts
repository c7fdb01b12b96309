import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOfGrpcPeer, ClientAddresses } from '../../../src/server/client-address.ts';
import { IpRange } from '../../../src/config/common.ts';

// [trusted proxies, peer, X-Forwarded-For, client address, why]
const CASES: [string[], string, string | undefined, string, string][] = [
  [
    [],
    '203.0.113.9',
    '198.51.100.1',
    '203.0.113.9',
    'no trusted proxies: the header is never read',
  ],
  [
    ['10.0.0.0/8'],
    '203.0.113.9',
    '198.51.100.1',
    '203.0.113.9',
    'an untrusted peer cannot forward',
  ],
  [['10.0.0.0/8'], '10.1.2.3', '198.51.100.1', '198.51.100.1', 'a trusted peer forwards'],
  [
    ['10.0.0.0/8'],
    '10.1.2.3',
    undefined,
    '10.1.2.3',
    'a trusted peer without the header is the client',
  ],
  [
    ['10.0.0.0/8'],
    '10.1.2.3',
    '1.1.1.1, 198.51.100.1, 10.9.9.9',
    '198.51.100.1',
    'the nearest untrusted hop, not what the client wrote on the left',
  ],
  [['10.0.0.0/8'], '10.1.2.3', '10.0.0.7, 10.9.9.9', '10.0.0.7', 'all trusted: the farthest hop'],
  [
    ['10.0.0.0/8'],
    '10.1.2.3',
    'garbage, 10.9.9.9',
    '10.9.9.9',
    'a hop that is no address stops the walk',
  ],
  [['10.0.0.5'], '::ffff:10.0.0.5', '198.51.100.1', '198.51.100.1', 'IPv4-mapped peers are IPv4'],
  [['fd00::/8'], 'fd00::1', '2001:db8::7', '2001:db8::7', 'IPv6 ranges'],
  [['fd00::/8'], 'fd00::1', '[2001:db8::7]', '2001:db8::7', 'bracketed IPv6 hops'],
];

for (const [trusted, peer, forwarded, expected, why] of CASES) {
  test(`client address: ${why}`, () => {
    assert.equal(new ClientAddresses(trusted).of(peer, forwarded), expected);
  });
}

test('repeated X-Forwarded-For headers read as one list', () => {
  const addresses = new ClientAddresses(['10.0.0.0/8']);
  assert.equal(addresses.of('10.0.0.1', ['198.51.100.1', '10.0.0.2']), '198.51.100.1');
});

test('gRPC peers', () => {
  assert.equal(addressOfGrpcPeer('ipv4:127.0.0.1:50051'), '127.0.0.1');
  assert.equal(addressOfGrpcPeer('ipv6:[::1]:50051'), '::1');
});

test('trusted_proxies entries are addresses or CIDR ranges', () => {
  for (const ok of ['10.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1', '0.0.0.0/0'])
    assert.equal(IpRange.safeParse(ok).success, true, ok);
  for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example', '10.0.0.0/8/1', '10.0.0.0/x', ''])
    assert.equal(IpRange.safeParse(bad).success, false, bad);
});

// [trusted proxies, peer, X-Forwarded-For, what is sent on, why]
const FORWARDED: [string[], string, string | string[] | undefined, string, string][] = [
  [[], '203.0.113.9', '198.51.100.1', '203.0.113.9', 'no trusted proxies: the peer alone'],
  [['10.0.0.0/8'], '203.0.113.9', '1.1.1.1', '203.0.113.9', 'an untrusted peer: replaced'],
  [['10.0.0.0/8'], '10.1.2.3', '1.1.1.1, 10.9.9.9', '1.1.1.1, 10.9.9.9, 10.1.2.3', 'appended'],
  [['10.0.0.0/8'], '10.1.2.3', ['1.1.1.1', '10.9.9.9'], '1.1.1.1, 10.9.9.9, 10.1.2.3', 'repeated'],
  [['10.0.0.0/8'], '10.1.2.3', undefined, '10.1.2.3', 'a trusted peer without a list'],
  [['10.0.0.5'], '::ffff:10.0.0.5', '1.1.1.1', '1.1.1.1, 10.0.0.5', 'the peer as IPv4'],
];

for (const [trusted, peer, forwarded, expected, why] of FORWARDED) {
  test(`X-Forwarded-For sent on: ${why}`, () => {
    assert.equal(new ClientAddresses(trusted).forwardedFor(peer, forwarded), expected);
  });
}
