import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ApiKeys,
  generateApiKey,
  hashApiKey,
  type ApiKeyEntry,
} from '../../../../src/policies/auth/api-keys.ts';

const MOBILE_KEY = 'gw_mobile-key-0123456789abcdefghijklmnopqrstuv';
const PARTNER_KEY = 'gw_partner-key-ZYXWVUTSRQPONMLKJIHGFEDCBA98765';

const MOBILE: ApiKeyEntry = {
  name: 'mobile-app',
  sha256: hashApiKey(MOBILE_KEY),
  clientId: 'mobile',
  scopes: ['orders:read', 'users:read'],
  plan: 'gold',
};
const PARTNER: ApiKeyEntry = {
  name: 'partner',
  sha256: hashApiKey(PARTNER_KEY),
  clientId: 'acme',
  scopes: ['orders:read'],
};

test('hashApiKey is the hex SHA-256 of the key as UTF-8', () => {
  assert.equal(
    hashApiKey('abc'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', // FIPS 180-2 test vector
  );
  assert.equal(hashApiKey('clé'), createHash('sha256').update(Buffer.from('clé')).digest('hex'));
});

test('a valid key gives its entry as an api_key identity', () => {
  const keys = new ApiKeys([MOBILE]);
  assert.deepEqual(keys.match(MOBILE_KEY), {
    kind: 'api_key',
    subject: 'mobile-app',
    clientId: 'mobile',
    scopes: ['orders:read', 'users:read'],
    plan: 'gold',
    claims: {},
  });
});

test('an entry without a plan gives an identity without one', () => {
  const identity = new ApiKeys([PARTNER]).match(PARTNER_KEY);
  assert.equal(identity?.subject, 'partner');
  assert.equal('plan' in (identity ?? {}), false);
});

test('a key wrong by one character, in any position, matches nothing', () => {
  const keys = new ApiKeys([MOBILE]);
  for (const i of [0, 3, MOBILE_KEY.length - 1]) {
    const wrong =
      MOBILE_KEY.slice(0, i) + (MOBILE_KEY[i] === 'x' ? 'y' : 'x') + MOBILE_KEY.slice(i + 1);
    assert.equal(keys.match(wrong), undefined, `changed at ${i}`);
  }
  assert.equal(keys.match(MOBILE_KEY.slice(0, -1)), undefined, 'one character short');
  assert.equal(keys.match(`${MOBILE_KEY}x`), undefined, 'one character more');
  assert.equal(keys.match(` ${MOBILE_KEY}`), undefined, 'a leading space');
});

test('the hash of a key is not the key: presenting the configured hash matches nothing', () => {
  assert.equal(new ApiKeys([MOBILE]).match(MOBILE.sha256), undefined);
});

test('an empty string matches nothing, even when the config holds the hash of the empty key', () => {
  const keys = new ApiKeys([{ ...PARTNER, name: 'empty', sha256: hashApiKey('') }]);
  assert.equal(keys.match(''), undefined);
});

test('a huge string is hashed like any other and matches nothing', () => {
  const keys = new ApiKeys([MOBILE, PARTNER]);
  assert.equal(keys.match('k'.repeat(1_000_000)), undefined);
  assert.equal(keys.match(MOBILE_KEY.repeat(10_000)), undefined);
});

test('several entries: each key gives its own entry, and none gives another', () => {
  const keys = new ApiKeys([MOBILE, PARTNER]);
  assert.equal(keys.match(MOBILE_KEY)?.subject, 'mobile-app');
  assert.equal(keys.match(PARTNER_KEY)?.subject, 'partner');
  assert.equal(keys.match(PARTNER_KEY)?.clientId, 'acme');
  assert.equal(keys.size, 2);
});

test('a hash written in uppercase hex is accepted', () => {
  const keys = new ApiKeys([{ ...MOBILE, sha256: MOBILE.sha256.toUpperCase() }]);
  assert.equal(keys.match(MOBILE_KEY)?.subject, 'mobile-app');
});

test('no entries: nothing matches', () => {
  assert.equal(new ApiKeys([]).match(MOBILE_KEY), undefined);
});

test('an entry whose sha256 is not 64 hex digits is refused, naming the entry', () => {
  for (const sha256 of ['', 'abc', `${MOBILE.sha256}0`, `${MOBILE.sha256.slice(1)}g`, MOBILE_KEY]) {
    assert.throws(
      () => new ApiKeys([{ ...MOBILE, sha256 }]),
      /API key "mobile-app": sha256 must be 64 hex digits/,
    );
  }
});

test('two entries with one hash are refused (whichever case each is written in)', () => {
  assert.throws(
    () => new ApiKeys([MOBILE, { ...PARTNER, sha256: MOBILE.sha256.toUpperCase() }]),
    /API keys "mobile-app" and "partner" have the same sha256/,
  );
});

test('match compares the presented digest with every entry, whether it matches or not', () => {
  const entries = Array.from({ length: 5 }, (_, i) => ({
    ...PARTNER,
    name: `key-${i}`,
    sha256: hashApiKey(`secret-${i}`),
  }));
  const compared: Buffer[] = [];
  const keys = new ApiKeys(entries, {
    timingSafeEqual: (a, b) => {
      compared.push(b);
      assert.equal(a.length, 32, 'digests are compared, never keys');
      return timingSafeEqual(a, b);
    },
  });
  for (const presented of ['secret-0', 'secret-2', 'secret-4', 'nope']) {
    compared.length = 0;
    keys.match(presented);
    assert.deepEqual(
      compared.map((b) => b.toString('hex')),
      entries.map((e) => e.sha256),
      `presenting ${presented}`,
    );
  }
  assert.equal(keys.match('secret-0')?.subject, 'key-0'); // a match at the front still scans all
});

test('the identity is frozen: one request cannot change what the next one gets', () => {
  const keys = new ApiKeys([MOBILE]);
  const identity = keys.match(MOBILE_KEY)!;
  assert.throws(() => (identity.scopes as string[]).push('admin'));
  assert.throws(() => ((identity as { subject: string }).subject = 'root'));
  assert.deepEqual(keys.match(MOBILE_KEY)?.scopes, ['orders:read', 'users:read']);
});

test('scopes listed twice are given once', () => {
  const keys = new ApiKeys([{ ...MOBILE, scopes: ['a', 'b', 'a'] }]);
  assert.deepEqual(keys.match(MOBILE_KEY)?.scopes, ['a', 'b']);
});

test('generateApiKey: gw_, then 32 random bytes as base64url, different each time', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i += 1) {
    const key = generateApiKey();
    assert.match(key, /^gw_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(key.slice(3), 'base64url').length, 32);
    seen.add(key);
  }
  assert.equal(seen.size, 100);
});

test('a generated key, configured by its hash, is matched', () => {
  const key = generateApiKey();
  const keys = new ApiKeys([{ ...PARTNER, sha256: hashApiKey(key) }]);
  assert.equal(keys.match(key)?.subject, 'partner');
});
