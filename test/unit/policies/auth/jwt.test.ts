import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  AuthUnavailableError,
  CredentialError,
} from '../../../../src/policies/auth/credential-errors.ts';
import { JwksPool } from '../../../../src/policies/auth/jwks.ts';
import {
  JwtVerifier,
  MAX_TOKEN_LENGTH,
  type JwtIssuerOptions,
  type JwtVerifierOptions,
} from '../../../../src/policies/auth/jwt.ts';
import {
  encodeSegment,
  generateTestKeys,
  hmacToken,
  jwksOf,
  sign,
  signRaw,
  unsignedToken,
  type TestKeys,
} from '../../../helpers/tokens.ts';

/**
 * The verifier's rules with configured keys (no HTTP): claims, time, the cache, the options it
 * refuses. Time is a variable the tests move.
 */

const ISS = 'https://id.unit.test/';
const AUD = 'unit-api';
const T0 = 1_800_000_000;

let keys: TestKeys;
before(async () => {
  keys = await generateTestKeys();
});

function claims(overrides: Record<string, unknown> = {}) {
  return { iss: ISS, aud: AUD, sub: 'user-1', iat: T0, exp: T0 + 600, ...overrides };
}

/** A verifier over a local JWKS of rsa, ec and ed, at a clock the test moves. */
function verifier(
  issuer: Partial<JwtIssuerOptions> = {},
  options: Partial<JwtVerifierOptions> = {},
  more: JwtIssuerOptions[] = [],
) {
  const clock = { s: T0 };
  const v = new JwtVerifier(
    [
      {
        issuer: ISS,
        audiences: [AUD],
        keys: { kind: 'jwks', jwks: jwksOf(keys.rsa, keys.ec, keys.ed) },
        ...issuer,
      },
      ...more,
    ],
    { pool: new JwksPool(), now: () => clock.s, ...options },
  );
  return { v, clock };
}

async function rejects(promise: Promise<unknown>, reason: string) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof CredentialError, `not a CredentialError: ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

test('a verified token gives the identity: subject, issuer, scopes, client id, claims, expiry', async () => {
  const { v } = verifier();
  const payload = claims({ scope: 'users:read orders:write', client_id: 'web', tenant: 'acme' });
  const identity = await v.verify(await sign(payload, { key: keys.rsa }));
  assert.deepEqual(identity, {
    kind: 'jwt',
    subject: 'user-1',
    issuer: ISS,
    scopes: ['users:read', 'orders:write'],
    clientId: 'web',
    claims: payload,
    expiresAt: T0 + 600,
  });
});

test('scopes come from the first scope claim present, a string or an array, deduplicated', async () => {
  const { v } = verifier();
  const cases: [Record<string, unknown>, string[]][] = [
    [{ scope: 'a b  a c' }, ['a', 'b', 'c']],
    [{ scp: ['a', 'b', 'a', 7, ''] }, ['a', 'b']],
    [{ scope: 'a', scp: ['b'] }, ['a']],
    [{ scope: '' }, []],
    [{ scope: 42 }, []],
    [{}, []],
  ];
  for (const [extra, scopes] of cases) {
    const identity = await v.verify(await sign(claims(extra), { key: keys.ec }));
    assert.deepEqual(identity.scopes, scopes, JSON.stringify(extra));
  }
});

test('the subject, scope and client id claims are configurable', async () => {
  const { v } = verifier({
    claims: { subject: 'oid', scopes: ['roles'], clientId: ['appid', 'azp'] },
  });
  const identity = await v.verify(
    await sign(claims({ oid: 'object-7', roles: ['admin'], azp: 'spa', appid: '' }), {
      key: keys.rsa,
    }),
  );
  assert.equal(identity.subject, 'object-7');
  assert.deepEqual(identity.scopes, ['admin']);
  assert.equal(identity.clientId, 'spa');
  await rejects(v.verify(await sign(claims(), { key: keys.rsa })), 'missing subject');
});

test('the identity is frozen: requests sharing a cached identity cannot change it', async () => {
  const { v } = verifier();
  const identity = await v.verify(
    await sign(claims({ scope: 'a', nested: { role: 'user' } }), { key: keys.rsa }),
  );
  assert.ok(Object.isFrozen(identity));
  assert.ok(Object.isFrozen(identity.scopes));
  assert.ok(Object.isFrozen((identity.claims as { nested: object }).nested));
});

test('with the default tolerance of 0, exp is exclusive and nbf inclusive', async () => {
  const { v } = verifier({}, { cache: false });
  const at = (extra: Record<string, unknown>) => sign(claims(extra), { key: keys.rsa });
  await rejects(v.verify(await at({ exp: T0 })), 'expired');
  assert.ok(await v.verify(await at({ exp: T0 + 1 })));
  assert.ok(await v.verify(await at({ nbf: T0 })));
  await rejects(v.verify(await at({ nbf: T0 + 1 })), 'not yet valid');
});

test('maxAgeS requires iat and bounds the age, with the tolerance', async () => {
  const { v } = verifier({ maxAgeS: 300, clockToleranceS: 5 }, { cache: false });
  const at = (extra: Record<string, unknown>) => sign(claims(extra), { key: keys.rsa });
  await rejects(v.verify(await at({ iat: undefined })), 'missing iat');
  assert.ok(await v.verify(await at({ iat: T0 - 305 })));
  await rejects(v.verify(await at({ iat: T0 - 306 })), 'too old');
  assert.ok(await v.verify(await at({ iat: T0 + 5 })));
  await rejects(v.verify(await at({ iat: T0 + 6 })), 'issued in the future');
});

test('requireExp: false accepts a token without exp, which then has no expiry', async () => {
  const { v } = verifier({ requireExp: false });
  const identity = await v.verify(await sign(claims({ exp: undefined }), { key: keys.ed }));
  assert.equal(identity.expiresAt, undefined);
  // exp, when present, still counts.
  await rejects(v.verify(await sign(claims({ exp: T0 - 1 }), { key: keys.ed })), 'expired');
});

test('an empty audience list checks no audience', async () => {
  const { v } = verifier({ audiences: [] });
  assert.ok(await v.verify(await sign(claims({ aud: 'anything' }), { key: keys.rsa })));
  assert.ok(await v.verify(await sign(claims({ aud: undefined }), { key: keys.rsa })));
});

test('several issuers: each token is judged by its own issuer keys and rules', async () => {
  const other = 'https://other.unit.test/';
  const { v } = verifier({ keys: { kind: 'jwks', jwks: jwksOf(keys.rsa) } }, {}, [
    { issuer: other, audiences: ['other-api'], keys: { kind: 'jwks', jwks: jwksOf(keys.ec) } },
  ]);
  assert.equal((await v.verify(await sign(claims(), { key: keys.rsa }))).issuer, ISS);
  const theirs = await v.verify(
    await sign(claims({ iss: other, aud: 'other-api' }), { key: keys.ec }),
  );
  assert.equal(theirs.issuer, other);
  // Each issuer's keys serve its own tokens only.
  await rejects(v.verify(await sign(claims(), { key: keys.ec })), 'unknown key');
  await rejects(
    v.verify(await sign(claims({ iss: other, aud: 'other-api' }), { key: keys.rsa })),
    'unknown key',
  );
  await rejects(v.verify(await sign(claims({ iss: other }), { key: keys.ec })), 'wrong audience');
});

test('HMAC only for an issuer with a shared secret, which accepts nothing else', async () => {
  const secret = randomBytes(48);
  const { v } = verifier({ keys: { kind: 'secret', secret } });
  assert.equal((await v.verify(hmacToken(secret, claims()))).subject, 'user-1');
  assert.ok(await v.verify(hmacToken(secret, claims(), {}, 'HS384')));
  // 48 bytes are too short for HS512 (RFC 7518 3.2: at least the hash size).
  await rejects(v.verify(hmacToken(secret, claims(), {}, 'HS512')), 'algorithm not allowed');
  await rejects(v.verify(hmacToken(randomBytes(48), claims())), 'bad signature');
  await rejects(v.verify(await sign(claims(), { key: keys.rsa })), 'algorithm not allowed');
  await rejects(v.verify(unsignedToken('none', claims())), 'algorithm not allowed');
});

test('a public key as an HMAC secret never verifies, whichever issuer the token names', async () => {
  const secretIssuer = 'https://hmac.unit.test/';
  const { v } = verifier({}, {}, [
    { issuer: secretIssuer, audiences: [AUD], keys: { kind: 'secret', secret: randomBytes(32) } },
  ]);
  for (const secret of [keys.rsa.spki, JSON.stringify(keys.rsa.publicJwk), keys.ec.spki]) {
    await rejects(v.verify(hmacToken(secret, claims())), 'algorithm not allowed');
    await rejects(v.verify(hmacToken(secret, claims({ iss: secretIssuer }))), 'bad signature');
  }
});

test('an algorithms list narrows the allowlist', async () => {
  const { v } = verifier({ algorithms: ['ES256'] });
  assert.ok(await v.verify(await sign(claims(), { key: keys.ec })));
  await rejects(v.verify(await sign(claims(), { key: keys.rsa })), 'algorithm not allowed');
});

test('configurations that would weaken the rules are refused', () => {
  const jwks = { kind: 'jwks' as const, jwks: jwksOf(keys.rsa) };
  const refused: [string, Partial<JwtIssuerOptions>, RegExp][] = [
    ['HS256 with public keys', { algorithms: ['HS256'] }, /cannot be used with jwks keys/],
    ['alg none', { algorithms: ['none'] }, /\["none"\]/],
    ['no algorithm at all', { algorithms: [] }, /cannot be used/],
    [
      'RS256 with a secret',
      { keys: { kind: 'secret', secret: randomBytes(32) }, algorithms: ['RS256'] },
      /cannot be used with secret keys/,
    ],
    [
      'HS512 with a 32-byte secret',
      { keys: { kind: 'secret', secret: randomBytes(32) }, algorithms: ['HS512'] },
      /cannot be used with secret keys/,
    ],
    ['a short secret', { keys: { kind: 'secret', secret: randomBytes(16) } }, /at least 32 bytes/],
    [
      'a PEM for HS256',
      { keys: { kind: 'pem', pem: keys.rsa.spki, alg: 'HS256' } },
      /asymmetric algorithm/,
    ],
    [
      'a PEM with another algorithm listed',
      { keys: { kind: 'pem', pem: keys.rsa.spki, alg: 'RS256' }, algorithms: ['RS256', 'PS256'] },
      /\["PS256"\]/,
    ],
    [
      'a JWKS URL that is not http',
      { keys: { kind: 'remote', url: 'file:///etc/jwks.json' } },
      /http or https/,
    ],
    ['a JWKS URL that is not a URL', { keys: { kind: 'remote', url: 'jwks.json' } }, /not a URL/],
    [
      'a cooldown of zero',
      { keys: { kind: 'remote', url: 'https://id.unit.test/jwks', cooldownMs: 0 } },
      /cooldownMs/,
    ],
    ['a negative tolerance', { clockToleranceS: -1 }, /clockToleranceS/],
    ['an empty issuer', { issuer: '' }, /non-empty/],
  ];
  for (const [name, options, message] of refused) {
    const pool = new JwksPool();
    assert.throws(
      () => new JwtVerifier([{ issuer: ISS, audiences: [AUD], keys: jwks, ...options }], { pool }),
      message,
      name,
    );
    // Nothing half-built stays in the pool.
    assert.equal(pool.size, 0, name);
  }
  assert.throws(
    () =>
      new JwtVerifier(
        [
          { issuer: ISS, audiences: [], keys: jwks },
          { issuer: ISS, audiences: [], keys: jwks },
        ],
        { pool: new JwksPool() },
      ),
    /configured twice/,
  );
});

test('a cached token answers with the same identity, and is rejected from the cache once expired', async () => {
  const { v, clock } = verifier({ clockToleranceS: 10 });
  const token = await sign(claims({ exp: T0 + 60 }), { key: keys.rsa });
  const first = await v.verify(token);
  clock.s = T0 + 60 + 9;
  assert.equal(await v.verify(token), first);
  clock.s = T0 + 60 + 10;
  await rejects(v.verify(token), 'expired');
  // A clock that went back finds the token again only through a fresh verification.
  clock.s = T0;
  const again = await v.verify(token);
  assert.notEqual(again, first);
  assert.deepEqual(again, first);
});

test('a cached token is rejected from the cache once too old, or when the clock went back before nbf', async () => {
  const { v, clock } = verifier({ maxAgeS: 100 });
  const token = await sign(claims({ nbf: T0 }), { key: keys.rsa });
  const first = await v.verify(token);
  clock.s = T0 - 1;
  await rejects(v.verify(token), 'not yet valid');
  clock.s = T0;
  assert.notEqual(await v.verify(token), first);
  clock.s = T0 + 101;
  await rejects(v.verify(token), 'too old');
});

test('the cache trusts an entry for maxTtlS at most, then verifies afresh', async () => {
  const { v, clock } = verifier({}, { cache: { maxTtlS: 10 } });
  const token = await sign(claims(), { key: keys.ec });
  const first = await v.verify(token);
  clock.s = T0 + 9;
  assert.equal(await v.verify(token), first);
  clock.s = T0 + 10;
  const second = await v.verify(token);
  assert.notEqual(second, first);
  assert.equal(await v.verify(token), second);
});

test('the cache is bounded: the least recently used entry leaves first', async () => {
  const { v } = verifier({}, { cache: { maxEntries: 2 } });
  const [a, b, c] = await Promise.all(
    ['a', 'b', 'c'].map((sub) => sign(claims({ sub }), { key: keys.rsa })),
  );
  const first = { a: await v.verify(a!), b: await v.verify(b!) };
  assert.equal(await v.verify(a!), first.a); // a is now the most recent
  await v.verify(c!); // b leaves
  assert.equal(await v.verify(a!), first.a);
  assert.notEqual(await v.verify(b!), first.b);
});

test('with the cache off every call verifies afresh', async () => {
  const { v } = verifier({}, { cache: false });
  const token = await sign(claims(), { key: keys.rsa });
  assert.notEqual(await v.verify(token), await v.verify(token));
});

test('a token without kid is tried against each key of its type', async () => {
  const { v } = verifier({ keys: { kind: 'jwks', jwks: jwksOf(keys.stranger, keys.rsa) } });
  assert.ok(await v.verify(await sign(claims(), { key: keys.rsa, kid: null })));
  assert.ok(await v.verify(await sign(claims(), { key: keys.stranger, kid: null })));
  // No key of the token's type: unknown, whichever keys are held.
  await rejects(v.verify(await sign(claims(), { key: keys.ec, kid: null })), 'unknown key');
  // Claims are judged once a key verified the signature.
  await rejects(
    v.verify(await sign(claims({ exp: T0 - 1 }), { key: keys.rsa, kid: null })),
    'expired',
  );
});

test(`a token of ${MAX_TOKEN_LENGTH} characters is read, one more is malformed`, async () => {
  const { v } = verifier({}, { cache: false });
  const padded = (pad: number) =>
    sign(claims({ pad: 'x'.repeat(pad) }), { key: keys.ec, kid: 'e' });
  const bare = (await padded(0)).length;
  /** A token of exactly `length` characters, if one exists (base64 skips some lengths). */
  const sized = async (length: number) => {
    // Each padding byte adds 4/3 of a character: start just short, then grow.
    for (let pad = Math.floor(((length - bare) * 3) / 4) - 4; ; pad++) {
      const token = await padded(pad);
      if (token.length >= length) return token.length === length ? token : undefined;
    }
  };
  let fits: string | undefined;
  let over: string | undefined;
  for (let target = MAX_TOKEN_LENGTH; !fits; target--) fits = await sized(target);
  for (let target = MAX_TOKEN_LENGTH + 1; !over; target++) over = await sized(target);
  // Past the size check, the kid "e" is simply unknown.
  await rejects(v.verify(fits), 'unknown key');
  await rejects(v.verify(over), 'malformed');
});

test('crit naming an extension nobody understands is refused', async () => {
  const { v } = verifier();
  const token = await signRaw(
    { kid: keys.rsa.kid, crit: ['urn:example:ext'], 'urn:example:ext': true },
    claims(),
    keys.rsa,
  );
  await rejects(v.verify(token), 'unsupported');
});

test('whatever the input, verify rejects with a CredentialError and nothing else', async () => {
  const { v } = verifier({}, { cache: false });
  const valid = await sign(claims({ scope: 'a b' }), { key: keys.rsa });
  // A seeded generator: the same 400 mutants every run.
  let seed = 0x2545f491;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %\u0000é';
  const mutants: unknown[] = [undefined, null, 42, {}, [], 'Bearer', '.', '..', '...'];
  for (let i = 0; i < 400; i++) {
    const chars = [...valid];
    for (let edits = 1 + random(3); edits > 0; edits--) {
      const at = random(chars.length);
      const kind = random(3);
      if (kind === 0) chars[at] = alphabet[random(alphabet.length)]!;
      else if (kind === 1) chars.splice(at, 1);
      else chars.splice(at, 0, alphabet[random(alphabet.length)]!);
    }
    mutants.push(chars.join(''));
  }
  // Segments swapped between valid tokens of different keys and algorithms.
  const others = await Promise.all(
    [keys.ec, keys.ed, keys.stranger].map((key) => sign(claims(), { key })),
  );
  for (const other of others)
    for (const mix of [0, 1, 2]) {
      const parts = valid.split('.');
      parts[mix] = other.split('.')[mix]!;
      mutants.push(parts.join('.'));
    }
  mutants.push(`${encodeSegment({ alg: 'RS256' })}.${encodeSegment(claims())}.A`);
  let verified = 0;
  for (const mutant of mutants) {
    try {
      await v.verify(mutant as string);
      verified += 1;
    } catch (error) {
      assert.ok(
        error instanceof CredentialError && !(error instanceof AuthUnavailableError),
        `${JSON.stringify(mutant)}: ${String(error)}`,
      );
      assert.ok(!error.reason.includes('.'), 'a reason must not carry the token');
    }
  }
  // A mutation may leave the token intact (base64 padding bits); it then verifies. Rarely.
  assert.ok(verified < 10);
});
