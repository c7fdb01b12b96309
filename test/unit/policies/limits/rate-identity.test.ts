import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Identity, RequestContext } from '../../../../src/kernel/context.ts';
import { addressBlock, rateIdentity } from '../../../../src/policies/limits/rate-identity.ts';

const ctx = (identity: Identity | undefined, clientAddress = '198.51.100.7') =>
  ({ identity, clientAddress }) as unknown as RequestContext;
const base = { scopes: [], claims: {} };

test('a verified caller keys its budget; anonymous callers by address', () => {
  assert.equal(rateIdentity(ctx(undefined)), 'ip:198.51.100.7');
  assert.equal(
    rateIdentity(ctx({ ...base, kind: 'jwt', subject: '42', issuer: 'https://idp' })),
    'sub:https://idp 42',
  );
  assert.equal(
    rateIdentity(ctx({ ...base, kind: 'opaque', subject: '42', issuer: 'https://other' })),
    'sub:https://other 42',
  );
  assert.equal(
    rateIdentity(ctx({ ...base, kind: 'api_key', subject: 'ci-key', clientId: 'partner-a' })),
    'key:partner-a',
  );
  assert.equal(rateIdentity(ctx({ ...base, kind: 'api_key', subject: 'ci-key' })), 'key:ci-key');
});

test("a configured client's requests spend budgets of their own, keyed by its id", () => {
  const request = { clientAddress: '198.51.100.7', client: { id: 'mobile' } };
  assert.equal(rateIdentity(request as unknown as RequestContext), 'mobile|ip:198.51.100.7');
});

test('IPv6 callers share the budget of their /64', () => {
  for (const [address, block] of [
    ['2001:db8:0:1::5', '2001:db8:0:1::/64'],
    ['2001:0db8:0000:0001:ffff:0:0:9', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1:2:3:4', 'fe80:0:0:0::/64'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['::ffff:1.2.3.4', '0:0:0:0::/64'],
    ['10.0.0.1', '10.0.0.1'],
  ])
    assert.equal(addressBlock(address!), block, address);
});
