import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Identity } from '../../../../src/kernel/context.ts';
import {
  GatewayTokens,
  SharedSecretProof,
  sharedSecretSignedString,
  verifySharedSecretProof,
  type GatewayTokensOptions,
} from '../../../../src/policies/auth/gateway-proof.ts';

const ADA: Identity = {
  kind: 'jwt',
  subject: 'user-1',
  issuer: 'https://idp.example',
  scopes: ['users:email', 'orders:write'],
  clientId: 'web',
  claims: {},
};
const ALAN: Identity = { ...ADA, subject: 'user-2', scopes: [] };

/** A clock that moves only when the test says; it starts on a whole second. */
function clockAt(ms = 1_800_000_000_000) {
  const clock = { now: ms };
  return { clock, now: () => clock.now };
}

function tokens(options: Partial<GatewayTokensOptions> = {}) {
  const { clock, now } = clockAt();
  const minted = new GatewayTokens({ issuer: 'gateway', audience: 'backends', now, ...options });
  /** What a backend does: jose against the published JWKS, at the test's time. */
  const verify = (token: string, jwks = minted.jwks()) =>
    jwtVerify(token, createLocalJWKSet(structuredClone(jwks) as never), {
      issuer: 'gateway',
      audience: 'backends',
      algorithms: ['EdDSA', 'ES256'],
      typ: 'JWT',
      requiredClaims: ['iat', 'exp'],
      currentDate: new Date(clock.now),
    });
  return { minted, clock, verify };
}

describe('GatewayTokens (the internal JWT)', () => {
  for (const algorithm of ['EdDSA', 'ES256'] as const) {
    test(`a ${algorithm} token verifies with jose against the JWKS and carries the identity`, async () => {
      const { minted, verify, clock } = tokens({ algorithm });
      const { payload, protectedHeader } = await verify(minted.proofFor(ADA, {}));
      const iat = clock.now / 1000;
      assert.deepEqual(payload, {
        iss: 'gateway',
        aud: 'backends',
        sub: 'user-1',
        scope: 'users:email orders:write',
        client_id: 'web',
        iat,
        exp: iat + 60,
      } satisfies JWTPayload);
      assert.equal(protectedHeader.alg, algorithm);
      assert.equal(protectedHeader.typ, 'JWT');
      assert.equal(protectedHeader.kid, minted.jwks().keys[0]?.kid);
    });
  }

  test('an anonymous call gets a token with no sub, scope or client_id', async () => {
    const { minted, verify } = tokens();
    const { payload } = await verify(minted.proofFor(undefined, {}));
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss']);
  });

  test('an identity without scopes gets a token without scope', async () => {
    const { minted, verify } = tokens();
    const { payload } = await verify(minted.proofFor(ALAN, {}));
    assert.equal(payload.sub, 'user-2');
    assert.equal('scope' in payload, false);
  });

  test('the lifetime is configurable and sets exp', async () => {
    const { minted, verify } = tokens({ lifetimeS: 5 });
    const { payload } = await verify(minted.proofFor(ADA, {}));
    assert.equal(payload.exp! - payload.iat!, 5);
  });

  test('a token is reused for the same identity for half its lifetime, then minted afresh', async () => {
    const { minted, clock, verify } = tokens();
    const first = minted.proofFor(ADA, {});
    clock.now += 29_999;
    assert.equal(minted.proofFor({ ...ADA, claims: { other: true } }, {}), first);
    clock.now += 1;
    const second = minted.proofFor(ADA, {});
    assert.notEqual(second, first);
    assert.equal((await verify(second)).payload.iat, clock.now / 1000);
  });

  test('different identities never share a token, even when their fields would join alike', async () => {
    const { minted, verify } = tokens();
    // Joined with a newline these two would be the same string; the cache key keeps them apart.
    const a = minted.proofFor({ ...ADA, subject: 'x\ny', scopes: [] }, {});
    const b = minted.proofFor({ ...ADA, subject: 'x', scopes: ['y'] }, {});
    const c = minted.proofFor({ ...ADA, clientId: 'mobile' }, {});
    const anonymous = minted.proofFor(undefined, {});
    assert.equal(new Set([a, b, c, anonymous, minted.proofFor(ADA, {})]).size, 5);
    assert.equal((await verify(c)).payload.client_id, 'mobile');
  });

  test('the cache holds at most cacheSize identities, dropping the oldest', () => {
    const { minted, clock } = tokens({ cacheSize: 2 });
    const ada = minted.proofFor(ADA, {});
    const alan = minted.proofFor(ALAN, {});
    // A second later a new token has another iat, where a reused one keeps the old.
    clock.now += 1000;
    minted.proofFor({ ...ADA, subject: 'user-3' }, {});
    assert.equal(minted.proofFor(ALAN, {}), alan, 'the newer entry is kept');
    assert.notEqual(minted.proofFor(ADA, {}), ada, 'the oldest entry was dropped');
  });

  test('the JWKS holds public members only, with kid, alg and use', () => {
    for (const algorithm of ['EdDSA', 'ES256'] as const) {
      const { minted } = tokens({ algorithm });
      const { keys } = minted.jwks();
      // The signing key and the next one, published ahead of its use.
      assert.equal(keys.length, 2);
      for (const key of keys) {
        const members = algorithm === 'EdDSA' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x'] : null;
        assert.deepEqual(
          Object.keys(key).sort(),
          members ?? ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
        );
        assert.equal(key.alg, algorithm);
        assert.equal(key.use, 'sig');
        assert.equal(key.kty, algorithm === 'EdDSA' ? 'OKP' : 'EC');
        assert.equal(key.crv, algorithm === 'EdDSA' ? 'Ed25519' : 'P-256');
        assert.equal('d' in key, false);
      }
      assert.notEqual(keys[0]?.kid, keys[1]?.kid);
    }
  });

  test('the JWKS is the same object until the key set changes', () => {
    const { minted, clock } = tokens();
    const before = minted.jwks();
    assert.equal(minted.jwks(), before);
    assert.equal(Object.isFrozen(before), true);
    clock.now += 3_600_000;
    assert.notEqual(minted.jwks(), before);
  });

  test('rotation: the next key, published an hour ahead, takes over; the old one stays for its grace period', async () => {
    const { minted, clock, verify } = tokens({ rotateEveryMs: 3_600_000, graceMs: 120_000 });
    const [first, next] = minted.jwks().keys.map((k) => k.kid) as [string, string];
    clock.now += 3_590_000;
    const old = minted.proofFor(ADA, {});
    assert.equal(decodeProtectedHeader(old).kid, first);

    clock.now += 10_000;
    const fresh = minted.proofFor(ADA, {});
    assert.equal(decodeProtectedHeader(fresh).kid, next, 'the pre-published key signs now');
    const kids = minted.jwks().keys.map((k) => k.kid);
    assert.equal(kids.length, 3);
    assert.equal(kids[0], next);
    assert.ok(kids.includes(first), 'the retired key is still published');
    // A token the retired key signed just before rotation still verifies against the JWKS now.
    clock.now += 30_000;
    assert.equal((await verify(old)).payload.sub, 'user-1');

    clock.now += 90_000; // grace over: 120 s after rotation
    assert.equal(
      minted.jwks().keys.some((k) => k.kid === first),
      false,
    );
    assert.equal(minted.jwks().keys.length, 2);
    const later = minted.proofFor(ADA, {});
    assert.equal(decodeProtectedHeader(later).kid, next);
    assert.equal((await verify(later)).payload.sub, 'user-1');
  });

  test('after a long idle period the keys rotate once, to the key that was published', () => {
    const { minted, clock } = tokens({ rotateEveryMs: 1_000 });
    const [, next] = minted.jwks().keys.map((k) => k.kid);
    clock.now += 10_500;
    assert.equal(decodeProtectedHeader(minted.proofFor(ADA, {})).kid, next);
  });

  test('a grace period shorter than the token lifetime is refused', () => {
    assert.throws(
      () => new GatewayTokens({ issuer: 'g', audience: 'b', lifetimeS: 60, graceMs: 59_999 }),
      /graceMs \(59999\) must be at least the token lifetime/,
    );
  });

  test('after close() no more proofs are minted', () => {
    const { minted } = tokens();
    minted.close();
    assert.throws(() => minted.proofFor(ADA, {}), /closed/);
  });
});

describe('SharedSecretProof (HMAC over the identity headers)', () => {
  const SECRET = 'a shared secret of at least 32 bytes';
  const NAMES = {
    subject: 'x-gateway-subject',
    scopes: 'x-gateway-scopes',
    clientId: 'x-gateway-client-id',
  };
  const SENT = {
    'x-gateway-subject': 'user-1',
    'x-gateway-scopes': 'users:email orders:write',
    'x-gateway-client-id': 'web',
  };
  const VALUES = { subject: 'user-1', scopes: 'users:email orders:write', clientId: 'web' };

  function proof() {
    const { clock, now } = clockAt();
    return { clock, now, signer: new SharedSecretProof({ secret: SECRET, names: NAMES, now }) };
  }

  test('the value is t=<seconds>,v1=<hex HMAC-SHA256 of the documented string>', () => {
    const { signer } = proof();
    const t = 1_800_000_000;
    const expected = createHmac('sha256', SECRET)
      .update(`${t}\nuser-1\nusers:email orders:write\nweb`)
      .digest('hex');
    assert.equal(signer.proofFor(ADA, SENT), `t=${t},v1=${expected}`);
    assert.equal(sharedSecretSignedString(t, {}), `${t}\n\n\n`);
  });

  test('a proof verifies with the same values and secret', () => {
    const { signer, now } = proof();
    assert.deepEqual(verifySharedSecretProof(signer.proofFor(ADA, SENT), VALUES, SECRET, { now }), {
      ok: true,
    });
    const anonymous = signer.proofFor(undefined, {});
    assert.deepEqual(verifySharedSecretProof(anonymous, {}, SECRET, { now }), { ok: true });
  });

  const tampered: [string, (value: string) => [string, typeof VALUES, string]][] = [
    ['another subject', (v) => [v, { ...VALUES, subject: 'user-2' }, SECRET]],
    ['a scope added', (v) => [v, { ...VALUES, scopes: `${VALUES.scopes} admin` }, SECRET]],
    ['another client id', (v) => [v, { ...VALUES, clientId: 'mobile' }, SECRET]],
    [
      'values in another order',
      (v) => [v, { ...VALUES, subject: 'web', clientId: 'user-1' }, SECRET],
    ],
    [
      'another timestamp',
      (v) => [v.replace(/^t=(\d+)/, (_, t) => `t=${Number(t) - 1}`), VALUES, SECRET],
    ],
    [
      'a flipped signature digit',
      (v) => [v.slice(0, -1) + (v.endsWith('0') ? '1' : '0'), VALUES, SECRET],
    ],
    ['another secret', (v) => [v, VALUES, `${SECRET}!`]],
  ];
  for (const [name, tamper] of tampered) {
    test(`a proof with ${name} is refused as a mismatch`, () => {
      const { signer, now } = proof();
      const [value, values, secret] = tamper(signer.proofFor(ADA, SENT));
      assert.deepEqual(verifySharedSecretProof(value, values, secret, { now }), {
        ok: false,
        reason: 'mismatch',
      });
    });
  }

  test('a proof older or newer than the allowed skew is refused as stale', () => {
    const { signer, clock, now } = proof();
    const value = signer.proofFor(ADA, SENT);
    const check = () => verifySharedSecretProof(value, VALUES, SECRET, { now, maxSkewS: 30 });
    clock.now += 30_000;
    assert.deepEqual(check(), { ok: true }, 'just inside the skew');
    clock.now += 1_000;
    assert.deepEqual(check(), { ok: false, reason: 'stale' });
    clock.now -= 62_000;
    assert.deepEqual(check(), { ok: false, reason: 'stale' }, 'from the future');
  });

  for (const value of [
    undefined,
    '',
    'v1=ab',
    't=1,v1=xyz',
    't=1,v1=' + 'A'.repeat(64),
    't=-1,v1=' + '0'.repeat(64),
  ]) {
    test(`a malformed proof (${JSON.stringify(value)}) is refused`, () => {
      assert.deepEqual(verifySharedSecretProof(value, VALUES, SECRET), {
        ok: false,
        reason: 'malformed',
      });
    });
  }

  test('a secret shorter than 32 bytes is refused', () => {
    assert.throws(
      () => new SharedSecretProof({ secret: 'short', names: NAMES }),
      /at least 32 bytes, got 5/,
    );
  });
});
