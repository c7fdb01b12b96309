import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { importPKCS8, SignJWT } from 'jose';
import {
  AuthUnavailableError,
  CredentialError,
} from '../../../../src/policies/auth/credential-errors.ts';
import { JwksPool } from '../../../../src/policies/auth/jwks.ts';
import { JwtVerifier, type KeySource } from '../../../../src/policies/auth/jwt.ts';
import { generateTestKeys, jwksOf, sign, type TestKeys } from '../../../helpers/tokens.ts';
import { makeCertificates } from '../../../helpers/tls.ts';

/** Keys given in the configuration: a JWKS document, a PEM key or certificate. */

const ISS = 'https://id.unit.test/';
const T0 = 1_800_000_000;
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: ISS,
  sub: 'user-1',
  exp: T0 + 60,
  ...extra,
});

let keys: TestKeys;
before(async () => {
  keys = await generateTestKeys();
});

function verifierWith(source: KeySource) {
  return new JwtVerifier([{ issuer: ISS, audiences: [], keys: source }], {
    pool: new JwksPool(),
    now: () => T0,
  });
}

async function rejects(promise: Promise<unknown>, reason: string) {
  await assert.rejects(
    promise,
    (error) => error instanceof CredentialError && error.reason === reason,
  );
}

test('a PEM public key verifies its one algorithm, whatever kid the token names', async () => {
  for (const key of [keys.rsa, keys.ec, keys.ed]) {
    const v = verifierWith({ kind: 'pem', pem: key.spki, alg: key.alg });
    await v.start();
    assert.equal((await v.verify(await sign(claims(), { key }))).subject, 'user-1', key.alg);
    assert.ok(await v.verify(await sign(claims(), { key, kid: 'whatever' })));
    assert.ok(await v.verify(await sign(claims(), { key, kid: null })));
    const foreign = key === keys.rsa ? keys.ec : keys.rsa;
    await rejects(v.verify(await sign(claims(), { key: foreign })), 'algorithm not allowed');
  }
  const rsa = verifierWith({ kind: 'pem', pem: keys.rsa.spki, alg: 'RS256' });
  await rejects(rsa.verify(await sign(claims(), { key: keys.stranger })), 'bad signature');
});

test('a PEM X.509 certificate verifies with the key it certifies', async () => {
  const { cert, key } = await makeCertificates();
  const v = verifierWith({ kind: 'pem', pem: cert.toString(), alg: 'ES256' });
  await v.start();
  const privateKey = await importPKCS8(key.toString(), 'ES256');
  const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  assert.equal((await v.verify(token)).subject, 'user-1');
  await rejects(v.verify(await sign(claims(), { key: keys.ec })), 'bad signature');
});

test('configured keys that cannot be used fail start(), and verification is unavailable', async () => {
  const unusable: [string, KeySource, RegExp][] = [
    ['a PEM that does not parse', { kind: 'pem', pem: 'not a key', alg: 'RS256' }, /SPKI/],
    [
      'an EC key declared RS256',
      { kind: 'pem', pem: keys.ec.spki, alg: 'RS256' },
      /jwt issuer "https:\/\/id\.unit\.test\/"/,
    ],
    [
      'a JWKS with no usable key',
      { kind: 'jwks', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
      /no usable public signature key/,
    ],
    ['a document that is not a JWKS', { kind: 'jwks', jwks: ['key'] }, /not a JWKS/],
  ];
  for (const [name, source, message] of unusable) {
    const v = verifierWith(source);
    await assert.rejects(v.start(), message, name);
    await assert.rejects(
      v.verify(await sign(claims(), { key: keys.rsa })),
      (error) => error instanceof AuthUnavailableError,
      name,
    );
  }
});

test('a local JWKS keeps its usable keys and skips the rest', async () => {
  const v = verifierWith({
    kind: 'jwks',
    jwks: { keys: [{ kty: 'RSA' }, 7, { ...keys.ec.publicJwk, use: 'enc' }, keys.rsa.publicJwk] },
  });
  await v.start();
  assert.ok(await v.verify(await sign(claims(), { key: keys.rsa })));
  await rejects(v.verify(await sign(claims(), { key: keys.ec })), 'unknown key');
});

test('a JWK without alg serves every algorithm of its key type', async () => {
  const { alg: _alg, ...rsaAnyAlg } = keys.rsa.publicJwk;
  const v = verifierWith({ kind: 'jwks', jwks: { keys: [rsaAnyAlg] } });
  assert.ok(await v.verify(await sign(claims(), { key: keys.rsa })));
  const pinned = verifierWith({ kind: 'jwks', jwks: jwksOf(keys.rsa) });
  // The same key published with alg RS256 is not a PS256 key.
  await rejects(
    pinned.verify(
      `${Buffer.from('{"alg":"PS256","kid":"rsa-1"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.c2ln`,
    ),
    'unknown key',
  );
});
