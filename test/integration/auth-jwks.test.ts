import { test, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import {
  AuthUnavailableError,
  CredentialError,
} from '../../src/policies/auth/credential-errors.ts';
import { type JwksEvent, JwksPool, type RemoteJwksOptions } from '../../src/policies/auth/jwks.ts';
import { type JwtIssuerOptions, JwtVerifier } from '../../src/policies/auth/jwt.ts';
import {
  encodeSegment,
  generateKey,
  generateTestKeys,
  hmacToken,
  jwksOf,
  sign,
  startTokenFixture,
  tokenCases,
  type TestKeys,
  type TokenFixture,
} from '../helpers/tokens.ts';

/**
 * The JWT verifier against a real JWKS served over HTTP on loopback. Time is the tests' own:
 * tokens are judged at the fixture's `nowS`, and the JWKS cooldowns and ages run on a clock the
 * tests move; nothing here sleeps or asserts a duration.
 */

const COOLDOWN_MS = 30_000;
const MAX_AGE_MS = 600_000;

let keys: TestKeys;
before(async () => {
  // RSA key generation is the slow part: one set for every test of the file.
  keys = await generateTestKeys();
});

interface Setup {
  readonly fixture: TokenFixture;
  readonly pool: JwksPool;
  readonly verifier: JwtVerifier;
  /** The JWKS clock, in ms: move `ms` to pass a cooldown or an age. */
  readonly clock: { ms: number; now(): number };
  readonly events: JwksEvent[];
  readonly emitter: EventEmitter<{ event: [JwksEvent] }>;
  /** Reject-with-reason assertion. */
  rejects(token: string | Promise<string>, reason: string): Promise<void>;
}

async function setup(
  t: TestContext,
  options: {
    issuer?: Partial<JwtIssuerOptions>;
    remote?: Omit<RemoteJwksOptions, 'url'>;
    start?: boolean;
    beforeStart?: (f: TokenFixture) => void;
  } = {},
): Promise<Setup> {
  const fixture = await startTokenFixture({ keys });
  t.after(() => fixture.close());
  const clock = { ms: 1_000_000, now: () => clock.ms };
  const events: JwksEvent[] = [];
  const emitter = new EventEmitter<{ event: [JwksEvent] }>();
  const pool = new JwksPool({
    clock,
    onEvent: (event) => {
      events.push(event);
      emitter.emit('event', event);
    },
  });
  t.after(() => pool.close());
  const verifier = new JwtVerifier(
    [
      fixture.issuerOptions({
        keys: {
          kind: 'remote',
          url: fixture.jwks.url,
          cooldownMs: COOLDOWN_MS,
          maxAgeMs: MAX_AGE_MS,
          ...options.remote,
        },
        ...options.issuer,
      }),
    ],
    { pool, now: () => fixture.nowS },
  );
  t.after(() => verifier.close());
  options.beforeStart?.(fixture);
  if (options.start !== false) await verifier.start();
  return {
    fixture,
    pool,
    verifier,
    clock,
    events,
    emitter,
    rejects: async (token, reason) => {
      await assert.rejects(verifier.verify(await token), (error) => {
        assert.ok(error instanceof CredentialError, `not a CredentialError: ${String(error)}`);
        assert.equal(error.reason, reason);
        return true;
      });
    },
  };
}

test('every token case of the table gets the expected answer, and again from the cache', async (t) => {
  const { fixture, verifier } = await setup(t);
  const cases = tokenCases(fixture);
  const tokens = await Promise.all(cases.map((c) => c.token()));
  for (const round of ['first', 'second']) {
    for (const [i, c] of cases.entries()) {
      await t.test(`${round}: ${c.name}`, async () => {
        const verdict = verifier.verify(tokens[i]!);
        if (c.expect === 'ok') {
          const identity = await verdict;
          assert.equal(identity.kind, 'jwt');
          assert.equal(identity.subject, 'user-1');
          assert.equal(identity.issuer, fixture.issuer);
          return;
        }
        await assert.rejects(verdict, (error) => {
          if (c.expect === 'unavailable') assert.ok(error instanceof AuthUnavailableError);
          else {
            assert.ok(error instanceof CredentialError, `not a CredentialError: ${String(error)}`);
            assert.equal(error.reason, c.reason);
            // Only a token that is not a JWT at all is a malformed request (RFC 6750 3.1).
            assert.equal(
              error.rfc6750,
              c.reason === 'malformed' ? 'invalid_request' : 'invalid_token',
            );
          }
          return true;
        });
      });
    }
  }
  // The table's unknown kids came within the cooldown of start(): no refetch.
  assert.equal(fixture.jwks.requests, 1);
  assert.equal(fixture.attacker.requests, 0);
});

test('an unknown kid causes exactly one refetch, then the token is rejected', async (t) => {
  const { fixture, clock, rejects } = await setup(t);
  assert.equal(fixture.jwks.requests, 1);
  clock.ms += COOLDOWN_MS;
  await rejects(
    sign(fixture.claims(), { key: keys.stranger, kid: 'not-published' }),
    'unknown key',
  );
  assert.equal(fixture.jwks.requests, 2);
  // Within the cooldown of that refetch: rejected without asking the provider again.
  await rejects(
    sign(fixture.claims(), { key: keys.stranger, kid: 'not-published' }),
    'unknown key',
  );
  await rejects(sign(fixture.claims(), { key: keys.stranger, kid: 'another' }), 'unknown key');
  assert.equal(fixture.jwks.requests, 2);
});

test('100 tokens with random kids cause at most one JWKS fetch per cooldown', async (t) => {
  const { fixture, clock, rejects } = await setup(t);
  const randomKid = () => sign(fixture.claims(), { key: keys.stranger, kid: randomUUID() });
  const flood = async () => {
    const tokens = await Promise.all(Array.from({ length: 100 }, randomKid));
    await Promise.all(tokens.map((token) => rejects(token, 'unknown key')));
  };
  // Within the cooldown of start()'s fetch: none.
  await flood();
  assert.equal(fixture.jwks.requests, 1);
  // A cooldown later, 100 concurrent misses share one fetch.
  clock.ms += COOLDOWN_MS;
  await flood();
  assert.equal(fixture.jwks.requests, 2);
  await flood();
  assert.equal(fixture.jwks.requests, 2);
  clock.ms += COOLDOWN_MS;
  await flood();
  assert.equal(fixture.jwks.requests, 3);
  assert.equal(fixture.attacker.requests, 0);
});

test('keys rotate without a restart: a new kid verifies after one refetch, the old stops once removed', async (t) => {
  const { fixture, pool, verifier, clock, rejects } = await setup(t);
  const next = await generateKey('RS256', 'rsa-2');
  const oldToken = await sign(fixture.claims(), { key: keys.rsa });
  const newToken = await sign(fixture.claims(), { key: next });
  const cached = await verifier.verify(oldToken);

  // The provider publishes the next key beside the current one, and starts signing with it.
  fixture.jwks.setKeys(jwksOf(keys.rsa, next));
  clock.ms += COOLDOWN_MS;
  assert.equal((await verifier.verify(newToken)).subject, 'user-1');
  assert.equal(fixture.jwks.requests, 2);
  // The key set changed, so the cached old token was checked again (still good: a new object).
  const again = await verifier.verify(oldToken);
  assert.notEqual(again, cached);
  assert.deepEqual(again, cached);

  // The provider retires the old key; the next refresh (as the background timer runs it) sees it.
  fixture.jwks.setKeys(jwksOf(next));
  const remote = pool.get({ url: fixture.jwks.url });
  await remote.refresh();
  pool.release(remote);
  await rejects(oldToken, 'unknown key');
  assert.equal((await verifier.verify(newToken)).subject, 'user-1');
});

test('a refetch that brings the same keys keeps what is cached', async (t) => {
  const { fixture, pool, verifier } = await setup(t);
  const token = await sign(fixture.claims(), { key: keys.ec });
  const first = await verifier.verify(token);
  const remote = pool.get({ url: fixture.jwks.url });
  const generation = remote.generation;
  await remote.refresh();
  pool.release(remote);
  assert.equal(remote.generation, generation);
  assert.equal(await verifier.verify(token), first);
});

test('keys older than maxAgeMs are refetched in the background while tokens keep verifying', async (t) => {
  const { fixture, verifier, clock } = await setup(t);
  fixture.jwks.setMode('hang');
  clock.ms += MAX_AGE_MS;
  const refreshing = once(fixture.jwks.events, 'request');
  // The held keys answer at once; the refetch they prompted hangs at the provider meanwhile.
  const identity = await verifier.verify(await sign(fixture.claims(), { key: keys.ed }));
  assert.equal(identity.subject, 'user-1');
  await refreshing;
  assert.equal(fixture.jwks.requests, 2);
  // The hung fetch ends with the test (the server drops its connections, the pool aborts).
});

test('the background timer refreshes the keys without any traffic', async (t) => {
  // A real (unref'ed) timer: maxAgeMs is short, and the test waits for its events, not a time.
  const { fixture, emitter } = await setup(t, { remote: { maxAgeMs: 20 } });
  for (let i = 0; i < 2; i++) {
    const [event] = (await once(emitter, 'event')) as [JwksEvent];
    assert.equal(event.type, 'jwks_refreshed');
  }
  assert.ok(fixture.jwks.requests >= 3);
});

test('with the JWKS endpoint down, the last keys fetched keep verifying', async (t) => {
  const { fixture, verifier, clock, emitter, events, rejects } = await setup(t);
  for (const mode of ['down', 'error'] as const) {
    fixture.jwks.setMode(mode);
    clock.ms += MAX_AGE_MS;
    const failed = once(emitter, 'event');
    // Stale keys: a background refetch starts (and fails); verification does not wait for it.
    const token = await sign(fixture.claims({ jti: mode }), { key: keys.rsa });
    assert.equal((await verifier.verify(token)).subject, 'user-1');
    const [event] = (await failed) as [JwksEvent];
    assert.equal(event.type, 'jwks_fetch_failed');
    assert.equal(event.url, fixture.jwks.url);
    // An unknown kid still asks (once per cooldown), and is an unknown key, not an outage.
    clock.ms += COOLDOWN_MS;
    await rejects(sign(fixture.claims(), { key: keys.stranger }), 'unknown key');
    assert.equal(
      (await verifier.verify(await sign(fixture.claims(), { key: keys.ec }))).subject,
      'user-1',
    );
  }
  assert.ok(events.filter((e) => e.type === 'jwks_fetch_failed').length >= 4);
  assert.ok(!JSON.stringify(events).includes('identity provider error'), 'a body was logged');
});

test('with no keys ever fetched, verification is unavailable (503), then recovers without a restart', async (t) => {
  const { fixture, verifier, clock, events } = await setup(t, {
    beforeStart: (f) => f.jwks.setMode('error'),
  });
  // start() does not throw: the failure is an event.
  assert.deepEqual(
    events.map((e) => e.type),
    ['jwks_fetch_failed'],
  );
  assert.equal(events[0]!.error, 'HTTP 500');
  const token = await sign(fixture.claims(), { key: keys.rsa });
  const unavailable = async () =>
    assert.rejects(verifier.verify(token), (error) => error instanceof AuthUnavailableError);
  // Within the cooldown of start()'s attempt: no new fetch, still unavailable.
  await unavailable();
  assert.equal(fixture.jwks.requests, 1);
  // A cooldown later the request waits for one fetch, which fails too.
  clock.ms += COOLDOWN_MS;
  await unavailable();
  assert.equal(fixture.jwks.requests, 2);
  // Concurrent requests while unavailable share that bound: no fetch each.
  await Promise.all(Array.from({ length: 20 }, unavailable));
  assert.equal(fixture.jwks.requests, 2);
  // The endpoint comes back: the next attempt (a cooldown on) fetches and the token verifies.
  fixture.jwks.setMode('ok');
  clock.ms += COOLDOWN_MS;
  assert.equal((await verifier.verify(token)).subject, 'user-1');
  assert.equal(fixture.jwks.requests, 3);
  assert.equal(events.at(-1)!.type, 'jwks_refreshed');
});

test('an unknown issuer is rejected without fetching keys, even with the JWKS down', async (t) => {
  const { fixture, verifier } = await setup(t, {
    start: false,
    beforeStart: (f) => f.jwks.setMode('down'),
  });
  await assert.rejects(
    verifier.verify(
      await sign(fixture.claims({ iss: 'https://elsewhere.test/' }), { key: keys.rsa }),
    ),
    (error) => error instanceof CredentialError && error.reason === 'unknown issuer',
  );
  assert.equal(fixture.jwks.requests, 0);
});

test('a JWKS that does not answer within timeoutMs counts as down', async (t) => {
  const { fixture, events } = await setup(t, {
    remote: { timeoutMs: 50 },
    beforeStart: (f) => f.jwks.setMode('hang'),
  });
  assert.deepEqual(events, [
    { type: 'jwks_fetch_failed', url: fixture.jwks.url, error: 'timed out' },
  ]);
});

test('answers that are not a usable JWKS are failures that keep the last keys', async (t) => {
  const { fixture, pool, verifier, events } = await setup(t);
  const token = await sign(fixture.claims(), { key: keys.rsa });
  const bodies: [string, number, string][] = [
    ['not json', 200, 'body is not JSON'],
    ['{"keys":"none"}', 200, 'not a JWKS: no "keys" array'],
    ['[]', 200, 'not a JWKS: no "keys" array'],
    ['{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}', 200, 'the JWKS has no usable public signature key'],
    [JSON.stringify({ keys: [], pad: 'x'.repeat(1024 * 1024) }), 200, 'body over 1 MiB'],
    ['{}', 302, 'HTTP 302'],
  ];
  const remote = pool.get({ url: fixture.jwks.url });
  t.after(() => pool.release(remote));
  for (const [body, status, error] of bodies) {
    fixture.jwks.setBody(body, status);
    await remote.refresh();
    assert.deepEqual(events.at(-1), { type: 'jwks_fetch_failed', url: fixture.jwks.url, error });
    assert.equal((await verifier.verify(token)).subject, 'user-1');
  }
});

test('bad entries of a JWKS are skipped, not fatal', async (t) => {
  const { fixture, pool, verifier, rejects } = await setup(t);
  // RSA under 2048 bits (RFC 7518 3.3): jose will not sign with it, so node:crypto does.
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const weakToken = (() => {
    const input = `${encodeSegment({ alg: 'RS256', kid: 'weak' })}.${encodeSegment(fixture.claims())}`;
    return `${input}.${createSign('RSA-SHA256').update(input).sign(weak.privateKey, 'base64url')}`;
  })();
  fixture.jwks.setKeys({
    keys: [
      'a string',
      null,
      { kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0', kid: 'hmac' },
      { ...keys.ec.publicJwk, kid: 'encryption', use: 'enc' },
      { ...keys.ec.publicJwk, kid: 'ops', key_ops: ['encrypt'] },
      { ...keys.ec.publicJwk, kid: 'mismatch', alg: 'RS256' },
      { ...keys.ec.publicJwk, kid: 7 },
      { kty: 'RSA', kid: 'broken', n: 'AQAB', e: 'AQAB' },
      { kty: 'EC', kid: 'no-curve', x: 'AA', y: 'AA' },
      { ...keys.stranger.publicJwk, kid: 'private', d: 'AQAB' },
      { ...weak.publicKey.export({ format: 'jwk' }), kid: 'weak' },
      keys.rsa.publicJwk,
    ],
  });
  const remote = pool.get({ url: fixture.jwks.url });
  await remote.refresh();
  pool.release(remote);
  assert.equal(
    (await verifier.verify(await sign(fixture.claims(), { key: keys.rsa }))).subject,
    'user-1',
  );
  // Published only for encryption, with the wrong alg, or with its private half: not held.
  for (const kid of ['encryption', 'ops', 'mismatch'])
    await rejects(sign(fixture.claims(), { key: keys.ec, kid }), 'unknown key');
  await rejects(sign(fixture.claims(), { key: keys.stranger, kid: 'private' }), 'unknown key');
  await rejects(weakToken, 'unknown key');
  await rejects(
    hmacToken('secretsecretsecretsecretsecret', fixture.claims(), { kid: 'hmac' }),
    'algorithm not allowed',
  );
});

test('the pool shares one key set per URL across verifiers, as a reload needs', async (t) => {
  const { fixture, pool, verifier } = await setup(t);
  assert.equal(fixture.jwks.requests, 1);
  // The reload builds the next verifier on the same pool: no refetch, keys at once.
  const next = new JwtVerifier([fixture.issuerOptions()], { pool, now: () => fixture.nowS });
  await next.start();
  assert.equal(fixture.jwks.requests, 1);
  verifier.close();
  assert.equal(pool.size, 1);
  assert.equal(
    (await next.verify(await sign(fixture.claims(), { key: keys.rsa }))).subject,
    'user-1',
  );
  next.close();
  // No verifier uses the URL any more: the key set is closed and dropped.
  assert.equal(pool.size, 0);
});
