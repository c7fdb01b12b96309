import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  SignJWT,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import type { JwtIssuerOptions } from '../../src/policies/auth/jwt.ts';

/**
 * Real keys, real signed tokens, a real JWKS over HTTP, and the forged tokens an attacker
 * would try: what the JWT verifier's tests and the gateway-level auth tests share.
 *
 * `tokenCases(fixture)` is the table of the issue's token cases; the same table runs through
 * `JwtVerifier` (test/integration/auth-jwks.test.ts) and through the gateway. The cases just
 * inside and just outside the clock tolerance are one second from the edge, so whatever
 * verifies them must read the fixture's clock (`now: () => fixture.nowS`), not the wall clock.
 */

export const ISSUER = 'https://id.gateway.test/';
export const AUDIENCE = 'https://api.gateway.test';
/** The clock tolerance the fixture's issuer is configured with, in seconds. */
export const TOLERANCE_S = 30;

export type TestAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface TestKey {
  readonly alg: TestAlg;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The public JWK as a JWKS publishes it: kid, alg, use. */
  readonly publicJwk: JWK;
  /** The public key as SPKI PEM. */
  readonly spki: string;
}

export async function generateKey(
  alg: TestAlg,
  kid = `${alg.toLowerCase()}-${randomId()}`,
): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk, spki: await exportSPKI(publicKey) };
}

export interface TestKeys {
  readonly rsa: TestKey;
  readonly ec: TestKey;
  readonly ed: TestKey;
  /** An RSA key nobody published: the "wrong key". */
  readonly stranger: TestKey;
}

export async function generateTestKeys(): Promise<TestKeys> {
  const [rsa, ec, ed, stranger] = await Promise.all([
    generateKey('RS256', 'rsa-1'),
    generateKey('ES256', 'ec-1'),
    generateKey('EdDSA', 'ed-1'),
    generateKey('RS256', 'stranger-1'),
  ]);
  return { rsa: rsa!, ec: ec!, ed: ed!, stranger: stranger! };
}

/** The JWKS document publishing these keys' public halves. */
export function jwksOf(...keys: TestKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}

export interface SignOptions {
  readonly key: TestKey;
  /** The header's alg; the key's by default. */
  readonly alg?: string;
  /** The header's kid: the key's by default, null for none. */
  readonly kid?: string | null;
  /** More header parameters (typ, jku, x5u, jwk...). */
  readonly header?: Readonly<Record<string, unknown>>;
}

/** A token signed for real with `key`'s private half. */
export async function sign(claims: JWTPayload, options: SignOptions): Promise<string> {
  const kid = options.kid === null ? {} : { kid: options.kid ?? options.key.kid };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? options.key.alg, ...kid, ...options.header })
    .sign(options.key.privateKey);
}

/** Web Crypto's signature parameters for each test key's algorithm (JWS wants ECDSA as r||s). */
const SIGNING: Readonly<Record<TestAlg, { name: string; hash?: string }>> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
};

/**
 * Signs any header and payload with `key`, bypassing jose's checks on what it produces (an
 * unknown `crit`, a header jose would refuse to write). `header.alg` defaults to the key's.
 */
export async function signRaw(
  header: Readonly<Record<string, unknown>>,
  payload: unknown,
  key: TestKey,
): Promise<string> {
  const input = `${encodeSegment({ alg: key.alg, ...header })}.${encodeSegment(payload)}`;
  const signature = await crypto.subtle.sign(SIGNING[key.alg], key.privateKey, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

export function encodeSegment(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString(
    'base64url',
  );
}

/** `alg: none` in whatever spelling, with an empty (or the given) signature. */
export function unsignedToken(
  alg: string,
  claims: JWTPayload,
  header: Readonly<Record<string, unknown>> = {},
  signature = '',
): string {
  return `${encodeSegment({ alg, ...header })}.${encodeSegment(claims)}.${signature}`;
}

/**
 * HS256/384/512 computed with any bytes as the secret: the key-confusion attack passes the
 * issuer's public key (its PEM text or JWK JSON, both public) as the HMAC secret, hoping the
 * verifier feeds the same bytes to HMAC.
 */
export function hmacToken(
  secret: Uint8Array | string,
  claims: JWTPayload,
  header: Readonly<Record<string, unknown>> = {},
  alg: 'HS256' | 'HS384' | 'HS512' = 'HS256',
): string {
  const input = `${encodeSegment({ alg, ...header })}.${encodeSegment(claims)}`;
  const mac = createHmac(`sha${alg.slice(2)}`, secret)
    .update(input)
    .digest('base64url');
  return `${input}.${mac}`;
}

function randomId(): string {
  return randomBytes(6).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Servers

export type JwksServerMode = 'ok' | 'error' | 'down' | 'hang';

export interface JwksServer {
  /** The JWKS URL, on 127.0.0.1 and a port of the system's choice. */
  readonly url: string;
  /** Requests received so far. */
  readonly requests: number;
  /** Emits `request` as each request arrives. */
  readonly events: EventEmitter<{ request: [] }>;
  /** Publishes another key set (rotation). */
  setKeys(jwks: unknown): void;
  /** ok: 200 with the keys; error: 500; down: the connection is dropped; hang: no answer. */
  setMode(mode: JwksServerMode): void;
  /** Answers with this raw body (and status) instead of the keys; undefined restores them. */
  setBody(body: string | undefined, status?: number): void;
  close(): Promise<void>;
}

export async function startJwksServer(jwks: unknown): Promise<JwksServer> {
  let keys = jwks;
  let mode: JwksServerMode = 'ok';
  let raw: { body: string; status: number } | undefined;
  let requests = 0;
  const events = new EventEmitter<{ request: [] }>();
  const server = createServer((req, res) => {
    requests += 1;
    events.emit('request');
    req.resume();
    switch (mode) {
      case 'down':
        req.socket.destroy();
        return;
      case 'hang':
        return;
      case 'error':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('identity provider error');
        return;
      case 'ok':
        if (raw) {
          res.writeHead(raw.status, { 'content-type': 'application/json' }).end(raw.body);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys));
    }
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    events,
    setKeys(next) {
      keys = next;
    },
    setMode(next) {
      mode = next;
    },
    setBody(body, status = 200) {
      raw = body === undefined ? undefined : { body, status };
    },
    close: () => shut(server),
  };
}

export interface AttackerServer {
  /** Its origin: tokens point their jku/x5u at paths under it. */
  readonly url: string;
  /** Requests it received: every test expects zero. */
  readonly requests: number;
  readonly key: TestKey;
  close(): Promise<void>;
}

/**
 * A server an attacker controls, serving its own key as a JWKS (and as PEM) at any path, so
 * that a verifier that followed a token's jku/x5u would find a key that verifies the forgery.
 */
export async function startAttackerServer(key: TestKey): Promise<AttackerServer> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    req.resume();
    if (req.url?.endsWith('.pem'))
      res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(key.spki);
    else
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwksOf(key)));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    key,
    close: () => shut(server),
  };
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// The fixture and the table

export interface TokenFixture {
  readonly keys: TestKeys;
  /** Publishes rsa, ec and ed. */
  readonly jwks: JwksServer;
  readonly attacker: AttackerServer;
  readonly issuer: string;
  readonly audience: string;
  readonly toleranceS: number;
  /** The fixture's clock, in seconds: tokens are issued relative to it. */
  readonly nowS: number;
  /** Standard valid claims (iss, aud, sub, scope, iat, exp = now + 10 min), with overrides. */
  claims(overrides?: Readonly<Record<string, unknown>>): JWTPayload;
  /** The issuer as `JwtVerifier` takes it, with the fixture's JWKS server as remote keys. */
  issuerOptions(overrides?: Partial<JwtIssuerOptions>): JwtIssuerOptions;
  close(): Promise<void>;
}

/**
 * Keys (generated, unless given: RSA generation takes a while, tests may share one set), a JWKS
 * server publishing rsa, ec and ed, and the attacker's server. `close()` stops both servers.
 */
export async function startTokenFixture(
  options: { nowS?: number; keys?: TestKeys } = {},
): Promise<TokenFixture> {
  const keys = options.keys ?? (await generateTestKeys());
  const attackerKey = await generateKey('RS256', 'attacker-1');
  const jwks = await startJwksServer(jwksOf(keys.rsa, keys.ec, keys.ed));
  const attacker = await startAttackerServer(attackerKey);
  const nowS = options.nowS ?? Math.floor(Date.now() / 1000);
  return {
    keys,
    jwks,
    attacker,
    issuer: ISSUER,
    audience: AUDIENCE,
    toleranceS: TOLERANCE_S,
    nowS,
    claims: (overrides = {}) => ({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-1',
      scope: 'users:read orders:write',
      client_id: 'web',
      iat: nowS,
      exp: nowS + 600,
      ...overrides,
    }),
    issuerOptions: (overrides = {}) => ({
      issuer: ISSUER,
      audiences: [AUDIENCE],
      keys: { kind: 'remote', url: jwks.url },
      clockToleranceS: TOLERANCE_S,
      ...overrides,
    }),
    close: async () => {
      await Promise.all([jwks.close(), attacker.close()]);
    },
  };
}

export interface TokenCase {
  /** A sentence: what the token is. */
  readonly name: string;
  token(): Promise<string>;
  /** ok: verified; reject: 401; unavailable: 503. */
  readonly expect: 'ok' | 'reject' | 'unavailable';
  /** The CredentialError reason the verifier gives (log lines carry it). */
  readonly reason?: string;
}

/**
 * The issue's token cases against the fixture's issuer (remote JWKS publishing rsa, ec and
 * ed; audience AUDIENCE; tolerance TOLERANCE_S; exp required). Unknown kids among them may
 * cause a JWKS refetch, at most one per cooldown.
 */
export function tokenCases(f: TokenFixture): TokenCase[] {
  const { rsa, ec, ed, stranger } = f.keys;
  const attacker = f.attacker.key;
  const claims = f.claims;
  const { nowS, toleranceS: t } = f;
  const signed =
    (options: SignOptions, payload: JWTPayload = claims()) =>
    () =>
      sign(payload, options);
  const ok = (name: string, token: () => Promise<string>): TokenCase => ({
    name,
    token,
    expect: 'ok',
  });
  const reject = (name: string, reason: string, token: () => Promise<string>): TokenCase => ({
    name,
    token,
    expect: 'reject',
    reason,
  });
  const sync = (value: () => string) => async () => value();
  const withoutExp = () => {
    const payload = claims();
    delete payload.exp;
    return payload;
  };
  const validRs256 = () => sign(claims(), { key: rsa });

  return [
    // Valid tokens.
    ok('a valid RS256 token', signed({ key: rsa })),
    ok('a valid ES256 token', signed({ key: ec })),
    ok('a valid EdDSA token', signed({ key: ed })),
    ok('a valid Ed25519 token (RFC 9864 name)', signed({ key: ed, alg: 'Ed25519' })),
    ok('a valid RS256 token without kid', signed({ key: rsa, kid: null })),
    ok('typ JWT', signed({ key: rsa, header: { typ: 'JWT' } })),
    ok('typ at+jwt (RFC 9068)', signed({ key: rsa, header: { typ: 'at+jwt' } })),
    ok(
      'typ application/at+jwt in capitals',
      signed({ key: ec, header: { typ: 'application/AT+JWT' } }),
    ),
    ok(
      'aud as an array holding the audience',
      signed({ key: rsa }, claims({ aud: ['other', f.audience] })),
    ),
    ok(
      'a jku header pointing at the attacker on a token signed by the real key (ignored)',
      signed({ key: rsa, header: { jku: `${f.attacker.url}/jwks.json` } }),
    ),
    ok('exp just inside the tolerance', signed({ key: rsa }, claims({ exp: nowS - t + 1 }))),
    ok('nbf just inside the tolerance', signed({ key: rsa }, claims({ nbf: nowS + t }))),

    // alg none, in several spellings, and other algorithms off the list.
    ...['none', 'None', 'NONE', 'nOnE'].map((alg) =>
      reject(
        `alg ${alg}`,
        'algorithm not allowed',
        sync(() => unsignedToken(alg, claims(), { kid: rsa.kid })),
      ),
    ),
    reject('alg none carrying a real signature', 'algorithm not allowed', async () =>
      unsignedToken('none', claims(), {}, (await validRs256()).split('.')[2]),
    ),
    reject(
      'alg HS256 with a random secret',
      'algorithm not allowed',
      sync(() => hmacToken(randomBytes(32), claims())),
    ),
    reject(
      'an alg nobody knows',
      'algorithm not allowed',
      sync(() => unsignedToken('RS1', claims(), {}, 'c2ln')),
    ),

    // Key confusion: the public key as an HMAC secret.
    reject(
      'HS256 signed with the RSA public key PEM as secret',
      'algorithm not allowed',
      sync(() => hmacToken(rsa.spki, claims(), { kid: rsa.kid })),
    ),
    reject(
      'HS256 signed with the RSA public JWK as secret',
      'algorithm not allowed',
      sync(() => hmacToken(JSON.stringify(rsa.publicJwk), claims(), { kid: rsa.kid })),
    ),
    reject(
      'HS256 signed with the EC public key PEM as secret',
      'algorithm not allowed',
      sync(() => hmacToken(ec.spki, claims(), { kid: ec.kid })),
    ),
    reject(
      'HS512 signed with the EC public JWK as secret',
      'algorithm not allowed',
      sync(() => hmacToken(JSON.stringify(ec.publicJwk), claims(), { kid: ec.kid }, 'HS512')),
    ),

    // Keys: wrong, unknown, and kids that try to be more than a name.
    reject(
      'signed by another key under a published kid',
      'bad signature',
      signed({ key: stranger, kid: rsa.kid }),
    ),
    reject(
      'signed by another key without kid',
      'bad signature',
      signed({ key: stranger, kid: null }),
    ),
    reject('an unknown kid', 'unknown key', signed({ key: stranger })),
    reject('an RS256 token naming the EC key', 'unknown key', signed({ key: rsa, kid: ec.kid })),
    reject(
      'kid with path traversal',
      'unknown key',
      signed({ key: rsa, kid: '../../../../../../etc/passwd' }),
    ),
    reject('kid with SQL', 'unknown key', signed({ key: rsa, kid: "rsa-1' OR '1'='1" })),
    reject('kid with a NUL byte', 'unknown key', signed({ key: rsa, kid: 'rsa-1\u0000' })),
    reject('a 4 KiB kid', 'unknown key', signed({ key: rsa, kid: 'k'.repeat(4096) })),

    // Keys the token brings along, at the attacker's server.
    reject(
      'jku pointing at the attacker',
      'unknown key',
      signed({ key: attacker, header: { jku: `${f.attacker.url}/jwks.json` } }),
    ),
    reject(
      'jku pointing at the attacker under a published kid',
      'bad signature',
      signed({ key: attacker, kid: rsa.kid, header: { jku: `${f.attacker.url}/jwks.json` } }),
    ),
    reject(
      'x5u pointing at the attacker',
      'unknown key',
      signed({ key: attacker, header: { x5u: `${f.attacker.url}/cert.pem` } }),
    ),
    reject(
      "an embedded jwk of the attacker's key",
      'bad signature',
      signed({ key: attacker, kid: null, header: { jwk: attacker.publicJwk } }),
    ),
    reject(
      'an x5c chain of the attacker',
      'unknown key',
      signed({ key: attacker, header: { x5c: [Buffer.from(attacker.spki).toString('base64')] } }),
    ),

    // Time.
    reject(
      'exp just outside the tolerance',
      'expired',
      signed({ key: rsa }, claims({ exp: nowS - t })),
    ),
    reject('expired an hour ago', 'expired', signed({ key: ec }, claims({ exp: nowS - 3600 }))),
    reject(
      'nbf just outside the tolerance',
      'not yet valid',
      signed({ key: rsa }, claims({ nbf: nowS + t + 1 })),
    ),
    reject('no exp', 'missing exp', async () => sign(withoutExp(), { key: rsa })),
    reject(
      'exp that is not a number',
      'invalid exp',
      signed({ key: rsa }, claims({ exp: String(nowS + 600) })),
    ),

    // Issuer, audience, type, subject.
    reject(
      'another iss',
      'unknown issuer',
      signed({ key: rsa }, claims({ iss: 'https://evil.gateway.test/' })),
    ),
    reject(
      'iss differing by a trailing slash',
      'unknown issuer',
      signed({ key: rsa }, claims({ iss: ISSUER.slice(0, -1) })),
    ),
    reject('no iss', 'unknown issuer', signed({ key: rsa }, claims({ iss: undefined }))),
    reject(
      'another aud',
      'wrong audience',
      signed({ key: rsa }, claims({ aud: 'https://other.gateway.test' })),
    ),
    reject('no aud', 'wrong audience', signed({ key: rsa }, claims({ aud: undefined }))),
    reject('typ JWS', 'wrong type', signed({ key: rsa, header: { typ: 'JWS' } })),
    reject('typ dpop+jwt', 'wrong type', signed({ key: rsa, header: { typ: 'dpop+jwt' } })),
    reject('typ that is not a string', 'wrong type', signed({ key: rsa, header: { typ: 1 } })),
    reject('no sub', 'missing subject', signed({ key: rsa }, claims({ sub: undefined }))),
    reject('an empty sub', 'missing subject', signed({ key: rsa }, claims({ sub: '' }))),

    // Tampering.
    reject('a payload changed after signing', 'bad signature', async () => {
      const [header, , signature] = (await validRs256()).split('.');
      return `${header}.${encodeSegment(claims({ sub: 'admin' }))}.${signature}`;
    }),
    reject('the signature removed', 'bad signature', async () => {
      const [header, payload] = (await validRs256()).split('.');
      return `${header}.${payload}.`;
    }),

    // Malformed strings.
    reject(
      'an empty string',
      'malformed',
      sync(() => ''),
    ),
    reject(
      'one segment',
      'malformed',
      sync(() => 'eyJhbGciOiJSUzI1NiJ9'),
    ),
    reject(
      'two segments',
      'malformed',
      sync(() => 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0'),
    ),
    reject('four segments', 'malformed', async () => `${await validRs256()}.e30`),
    reject(
      'bad base64',
      'malformed',
      sync(() => 'eyJ@bGciOi.eyJzdWIi*In0.c2ln'),
    ),
    reject('a Bearer prefix left on', 'malformed', async () => `Bearer ${await validRs256()}`),
    reject('a header that is not JSON', 'malformed', async () => {
      const [, payload, signature] = (await validRs256()).split('.');
      return `${encodeSegment('not json')}.${payload}.${signature}`;
    }),
    reject('a header that is a JSON array', 'malformed', async () => {
      const [, payload, signature] = (await validRs256()).split('.');
      return `${encodeSegment(['RS256'])}.${payload}.${signature}`;
    }),
    reject('a payload that is not JSON', 'malformed', async () => {
      const [header, , signature] = (await validRs256()).split('.');
      return `${header}.${encodeSegment('{"sub":')}.${signature}`;
    }),
    reject(
      'no alg',
      'malformed',
      sync(() => unsignedToken(undefined as never, claims())),
    ),
    reject(
      'a huge token',
      'malformed',
      signed({ key: rsa }, claims({ padding: 'x'.repeat(9000) })),
    ),
  ];
}
