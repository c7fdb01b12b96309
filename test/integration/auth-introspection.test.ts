import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import {
  AuthUnavailableError,
  CredentialError,
} from '../../src/policies/auth/credential-errors.ts';
import { Introspector, type IntrospectionOptions } from '../../src/policies/auth/introspection.ts';

/** What the authorization server saw of one introspection request. */
interface Seen {
  method: string | undefined;
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
}

/** A status and body sent as they are, for answers that are not a JSON 200. */
interface Raw {
  raw: true;
  status: number;
  body: string;
}
const raw = (status: number, body: string): Raw => ({ raw: true, status, body });
const isRaw = (reply: unknown): reply is Raw =>
  typeof reply === 'object' && reply !== null && 'raw' in reply;

/**
 * An RFC 7662 endpoint on loopback whose answers the test decides, recording every request.
 * `answer` gives a JSON value to send, a Raw one, or 'hang' to never answer (until the test ends).
 */
async function startAuthServer(t: TestContext, answer: (seen: Seen) => unknown) {
  const requests: Seen[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const seen = { method: req.method, headers: req.headers, form: new URLSearchParams(body) };
    requests.push(seen);
    const reply = await answer(seen);
    if (reply === 'hang') return;
    if (isRaw(reply)) {
      res.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.body);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/oauth2/introspect`, requests };
}

/** 2025-01-01T00:00:00Z, in ms; the introspector reads time only from here. */
const START = Date.UTC(2025, 0, 1);
const SECONDS = START / 1000;

function introspector(
  t: TestContext,
  url: string,
  options: Partial<IntrospectionOptions> = {},
  clock = { now: START },
) {
  const introspector = new Introspector(
    { url, clientId: 'gateway', clientSecret: 'secret', ...options },
    { now: () => clock.now },
  );
  t.after(() => introspector.close());
  return { introspector, clock };
}

const TOKEN = 'opaque-token.ABC_123~+/xyz==';

/** Asserts a rejection of the credential: the reason for the log, never the token in it. */
async function rejects(promise: Promise<unknown>, reason: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CredentialError, String(error));
    assert.equal(error.reason, reason);
    assert.equal(error.rfc6750, 'invalid_token');
    assert.ok(!error.message.includes(TOKEN));
    return true;
  });
}

/** Asserts the endpoint could not say (503), with the log reason matching `reason`. */
async function unavailable(promise: Promise<unknown>, reason: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthUnavailableError, String(error));
    assert.match(error.reason, reason);
    assert.ok(!error.message.includes(TOKEN));
    return true;
  });
}

const ACTIVE = {
  active: true,
  sub: 'user-42',
  scope: 'orders:read users:email orders:read',
  client_id: 'web-app',
  iss: 'https://id.example.test/',
  aud: ['gateway', 'billing'],
  exp: SECONDS + 3600,
  iat: SECONDS - 60,
  tenant: { id: 't1' },
};

test('an active token gives an opaque identity from the answer', async (t) => {
  const { url } = await startAuthServer(t, () => ACTIVE);
  const { introspector: i } = introspector(t, url);
  assert.deepEqual(await i.introspect(TOKEN), {
    kind: 'opaque',
    subject: 'user-42',
    issuer: 'https://id.example.test/',
    scopes: ['orders:read', 'users:email'], // the scope string split, deduplicated
    clientId: 'web-app',
    expiresAt: SECONDS + 3600,
    claims: ACTIVE,
  });
});

test('the request is a form POST of the token and its hint, accepting JSON', async (t) => {
  const { url, requests } = await startAuthServer(t, () => ACTIVE);
  const { introspector: i } = introspector(t, url);
  await i.introspect(TOKEN);
  assert.equal(requests.length, 1);
  const [seen] = requests;
  assert.equal(seen!.method, 'POST');
  assert.equal(seen!.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(seen!.headers.accept, 'application/json');
  assert.deepEqual(Object.fromEntries(seen!.form), {
    token: TOKEN, // "+", "/" and "=" survive the form encoding
    token_type_hint: 'access_token',
  });
});

test('client credentials go as HTTP Basic, each form-encoded first (RFC 6749 2.3.1)', async (t) => {
  const { url, requests } = await startAuthServer(t, () => ACTIVE);
  const clientId = 'gateway:prod ü';
  const clientSecret = 'p@ss w0rd/+=&%:';
  const { introspector: i } = introspector(t, url, { clientId, clientSecret });
  await i.introspect(TOKEN);
  const header = requests[0]!.headers.authorization ?? '';
  assert.match(header, /^Basic [A-Za-z0-9+/]+=*$/);
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  // The ":" inside the id is encoded, so the first ":" is the separator; spaces are "+".
  assert.equal(decoded, 'gateway%3Aprod+%C3%BC:p%40ss+w0rd%2F%2B%3D%26%25%3A');
  const [id, secret] = decoded.split(':') as [string, string];
  const formDecode = (s: string) => new URLSearchParams(`v=${s}`).get('v');
  assert.equal(formDecode(id), clientId);
  assert.equal(formDecode(secret), clientSecret);
});

test('the subject is sub, else username, else the client id', async (t) => {
  const answers = [
    { active: true, sub: 's', username: 'u', client_id: 'c' },
    { active: true, username: 'u', client_id: 'c' },
    { active: true, client_id: 'c' },
  ];
  const { url } = await startAuthServer(t, (seen) => answers[Number(seen.form.get('token'))]);
  const { introspector: i } = introspector(t, url);
  const subjects = [];
  for (const token of ['0', '1', '2']) subjects.push((await i.introspect(token)).subject);
  assert.deepEqual(subjects, ['s', 'u', 'c']);
});

test('an active answer naming no subject at all is rejected', async (t) => {
  const { url } = await startAuthServer(t, () => ({ active: true, scope: 'a' }));
  const { introspector: i } = introspector(t, url);
  await rejects(i.introspect(TOKEN), 'no subject');
});

test('configured claim names: subject, the union of scope members, the client id', async (t) => {
  const { url } = await startAuthServer(t, () => ({
    active: true,
    sub: 'ignored',
    uid: 'alice',
    scope: 'a b',
    scp: ['b', 'c'],
    azp: 'spa',
  }));
  const { introspector: i } = introspector(t, url, {
    claims: { subject: 'uid', scopes: ['scope', 'scp'], clientId: ['client_id', 'azp'] },
  });
  const identity = await i.introspect(TOKEN);
  assert.equal(identity.subject, 'alice');
  assert.deepEqual(identity.scopes, ['a', 'b', 'c']);
  assert.equal(identity.clientId, 'spa');
});

test('an inactive token is rejected', async (t) => {
  const { url } = await startAuthServer(t, () => ({ active: false }));
  const { introspector: i } = introspector(t, url);
  await rejects(i.introspect(TOKEN), 'inactive');
});

test('an active answer whose exp has passed is rejected; one second before, accepted', async (t) => {
  let exp = SECONDS; // exp equal to now: RFC 7519 wants now strictly before exp
  const { url } = await startAuthServer(t, () => ({ ...ACTIVE, exp }));
  const { introspector: i } = introspector(t, url, { negativeCacheMs: 0 });
  await rejects(i.introspect(TOKEN), 'expired');
  exp = SECONDS + 1;
  assert.equal((await i.introspect(TOKEN)).expiresAt, SECONDS + 1);
});

test('an active answer whose nbf is still ahead is rejected', async (t) => {
  const { url } = await startAuthServer(t, () => ({ ...ACTIVE, nbf: SECONDS + 1 }));
  const { introspector: i } = introspector(t, url);
  await rejects(i.introspect(TOKEN), 'not yet valid');
});

test('a configured issuer: another iss or none is rejected, the same is accepted', async (t) => {
  const answers: Record<string, unknown> = {
    other: { ...ACTIVE, iss: 'https://evil.example.test/' },
    none: { ...ACTIVE, iss: undefined },
    same: ACTIVE,
  };
  const { url } = await startAuthServer(t, (seen) => answers[seen.form.get('token')!]);
  const { introspector: i } = introspector(t, url, { issuer: 'https://id.example.test/' });
  await rejects(i.introspect('other'), 'issuer not accepted');
  await rejects(i.introspect('none'), 'issuer not accepted');
  assert.equal((await i.introspect('same')).issuer, 'https://id.example.test/');
});

test('with no issuer configured, any iss is accepted', async (t) => {
  const { url } = await startAuthServer(t, () => ({ ...ACTIVE, iss: 'https://other.test/' }));
  const { introspector: i } = introspector(t, url);
  assert.equal((await i.introspect(TOKEN)).issuer, 'https://other.test/');
});

test('configured audiences: aud must name one of them, as a string or in an array', async (t) => {
  const answers: Record<string, unknown> = {
    string: { ...ACTIVE, aud: 'gateway' },
    array: { ...ACTIVE, aud: ['other', 'gateway'] },
    other: { ...ACTIVE, aud: ['other', 'billing'] },
    none: { ...ACTIVE, aud: undefined },
  };
  const { url } = await startAuthServer(t, (seen) => answers[seen.form.get('token')!]);
  const { introspector: i } = introspector(t, url, { audiences: ['gateway', 'api'] });
  assert.equal((await i.introspect('string')).subject, 'user-42');
  assert.equal((await i.introspect('array')).subject, 'user-42');
  await rejects(i.introspect('other'), 'audience not accepted');
  await rejects(i.introspect('none'), 'audience not accepted');
});

test('a malformed token is rejected without asking the endpoint', async (t) => {
  const { url, requests } = await startAuthServer(t, () => ACTIVE);
  const { introspector: i } = introspector(t, url);
  for (const token of ['', 'two words', 'a=b', 'line\nbreak', 'ü', 'x'.repeat(4097)]) {
    await assert.rejects(i.introspect(token), (error: unknown) => {
      assert.ok(error instanceof CredentialError);
      assert.equal(error.reason, 'malformed token');
      return true;
    });
  }
  assert.equal(requests.length, 0);
});

test('an endpoint refusing connections makes the token uncheckable, not invalid', async (t) => {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  const { introspector: i } = introspector(t, `http://127.0.0.1:${port}/introspect`);
  await unavailable(i.introspect(TOKEN), /unreachable \(ECONNREFUSED\)/);
});

test('an endpoint slower than timeoutMs makes the token uncheckable', async (t) => {
  const { url, requests } = await startAuthServer(t, () => 'hang');
  const { introspector: i } = introspector(t, url, { timeoutMs: 50 });
  await unavailable(i.introspect(TOKEN), /timed out/);
  assert.equal(requests.length, 1);
});

test('an endpoint that sends headers and then stalls the body past timeoutMs is uncheckable', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"active":');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  const { port } = server.address() as AddressInfo;
  const { introspector: i } = introspector(t, `http://127.0.0.1:${port}/`, { timeoutMs: 50 });
  await unavailable(i.introspect(TOKEN), /timed out/);
});

test('a non-2xx answer makes the token uncheckable', async (t) => {
  const statuses = [500, 503, 401, 404, 302];
  const { url } = await startAuthServer(t, (seen) =>
    raw(statuses[Number(seen.form.get('token'))]!, '{"active":true,"sub":"x"}'),
  );
  const { introspector: i } = introspector(t, url);
  for (const [index, status] of statuses.entries()) {
    await unavailable(i.introspect(String(index)), new RegExp(`answered HTTP ${status}$`));
  }
});

test('an answer that is not JSON, not an object, or has no boolean active is uncheckable', async (t) => {
  const bodies = [
    '<html>oops</html>',
    '',
    '[{"active":true}]',
    'null',
    '{"sub":"x"}',
    '{"active":"true","sub":"x"}',
    '{"active":1,"sub":"x"}',
  ];
  const { url } = await startAuthServer(t, (seen) =>
    raw(200, bodies[Number(seen.form.get('token'))]!),
  );
  const { introspector: i } = introspector(t, url);
  for (const index of bodies.keys()) {
    await unavailable(i.introspect(String(index)), /other than JSON|without a boolean "active"/);
  }
});

test('an active answer with a member of the wrong type is uncheckable, not a rejection', async (t) => {
  const answers = [
    { ...ACTIVE, exp: String(SECONDS + 60) },
    { ...ACTIVE, sub: 42 },
    { ...ACTIVE, scope: { a: 1 } },
  ];
  const { url } = await startAuthServer(t, (seen) => answers[Number(seen.form.get('token'))]);
  const { introspector: i } = introspector(t, url);
  await unavailable(i.introspect('0'), /malformed "exp"/);
  await unavailable(i.introspect('1'), /malformed "sub"/);
  await unavailable(i.introspect('2'), /malformed "scope"/);
});

test('an answer larger than the cap is uncheckable', async (t) => {
  const { url } = await startAuthServer(t, () => ({ ...ACTIVE, padding: 'x'.repeat(100_000) }));
  const { introspector: i } = introspector(t, url);
  await unavailable(i.introspect(TOKEN), /more than 65536 bytes/);
});

test('an active answer is reused until exp, then asked again', async (t) => {
  const { url, requests } = await startAuthServer(t, () => ({ ...ACTIVE, exp: SECONDS + 60 }));
  const { introspector: i, clock } = introspector(t, url);
  await i.introspect(TOKEN);
  clock.now = START + 59_999;
  assert.equal((await i.introspect(TOKEN)).subject, 'user-42');
  assert.equal(requests.length, 1, 'the second introspection came from the cache');
  clock.now = START + 60_000; // exp: the cached answer is gone, and the server says expired
  await rejects(i.introspect(TOKEN), 'expired');
  assert.equal(requests.length, 2);
});

test('an active answer is reused for maxCacheMs at most when exp is further', async (t) => {
  const { url, requests } = await startAuthServer(t, () => ACTIVE); // exp in an hour
  const { introspector: i, clock } = introspector(t, url, { maxCacheMs: 30_000 });
  await i.introspect(TOKEN);
  clock.now = START + 29_999;
  await i.introspect(TOKEN);
  assert.equal(requests.length, 1);
  clock.now = START + 30_000;
  await i.introspect(TOKEN);
  assert.equal(requests.length, 2);
});

test('an active answer without exp is reused for maxCacheMs', async (t) => {
  const { url, requests } = await startAuthServer(t, () => ({ ...ACTIVE, exp: undefined }));
  const { introspector: i, clock } = introspector(t, url); // maxCacheMs 300000 by default
  await i.introspect(TOKEN);
  clock.now = START + 299_999;
  await i.introspect(TOKEN);
  assert.equal(requests.length, 1);
  clock.now = START + 300_000;
  await i.introspect(TOKEN);
  assert.equal(requests.length, 2);
});

test('an inactive answer is reused for negativeCacheMs only', async (t) => {
  let active = false;
  const { url, requests } = await startAuthServer(t, () => (active ? ACTIVE : { active: false }));
  const { introspector: i, clock } = introspector(t, url, { negativeCacheMs: 5_000 });
  await rejects(i.introspect(TOKEN), 'inactive');
  active = true; // the server changed its mind; the cache has not yet
  clock.now = START + 4_999;
  await rejects(i.introspect(TOKEN), 'inactive');
  assert.equal(requests.length, 1);
  clock.now = START + 5_000;
  assert.equal((await i.introspect(TOKEN)).subject, 'user-42');
  assert.equal(requests.length, 2);
});

test('a token the endpoint could not check is asked again at once: failures are not cached', async (t) => {
  let fail = true;
  const { url, requests } = await startAuthServer(t, () => (fail ? raw(500, 'down') : ACTIVE));
  const { introspector: i } = introspector(t, url);
  await unavailable(i.introspect(TOKEN), /HTTP 500/);
  fail = false;
  assert.equal((await i.introspect(TOKEN)).subject, 'user-42');
  assert.equal(requests.length, 2);
});

test('concurrent introspections of one token share one request', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrived!: () => void;
  const first = new Promise<void>((resolve) => (arrived = resolve));
  const { url, requests } = await startAuthServer(t, async () => {
    arrived();
    await released;
    return ACTIVE;
  });
  const { introspector: i } = introspector(t, url);
  const all = Array.from({ length: 20 }, () => i.introspect(TOKEN));
  const other = i.introspect('another-token');
  await first;
  release();
  const identities = await Promise.all(all);
  await other;
  assert.ok(identities.every((identity) => identity === identities[0]));
  assert.equal(requests.filter((r) => r.form.get('token') === TOKEN).length, 1);
  assert.equal(requests.length, 2, 'another token has its own request');
});

test('concurrent introspections of one token share one failure, and the next asks again', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let status = 503;
  const { url, requests } = await startAuthServer(t, async () => {
    await released;
    return status === 200 ? ACTIVE : raw(status, 'busy');
  });
  const { introspector: i } = introspector(t, url);
  const all = Array.from({ length: 5 }, () => i.introspect(TOKEN));
  release();
  for (const attempt of all) await unavailable(attempt, /HTTP 503/);
  assert.equal(requests.length, 1);
  status = 200;
  await i.introspect(TOKEN);
  assert.equal(requests.length, 2);
});

test('the cache holds maxEntries answers and forgets the least recently used first', async (t) => {
  const { url, requests } = await startAuthServer(t, (seen) =>
    seen.form.get('token') === 'dead' ? { active: false } : ACTIVE,
  );
  const { introspector: i } = introspector(t, url, { maxEntries: 2 });
  const asked = () => requests.map((r) => r.form.get('token'));
  await i.introspect('a');
  await i.introspect('b');
  await i.introspect('a'); // a is now the most recently used
  await rejects(i.introspect('dead'), 'inactive'); // a third entry: b goes
  assert.deepEqual(asked(), ['a', 'b', 'dead']);
  await i.introspect('a'); // still cached
  await rejects(i.introspect('dead'), 'inactive'); // still cached
  await i.introspect('b'); // forgotten: asked again
  assert.deepEqual(asked(), ['a', 'b', 'dead', 'b']);
});

test('a cached identity cannot be changed by the request that got it', async (t) => {
  const { url } = await startAuthServer(t, () => ACTIVE);
  const { introspector: i } = introspector(t, url);
  const identity = await i.introspect(TOKEN);
  assert.throws(() => (identity.scopes as string[]).push('admin'));
  assert.throws(() => ((identity.claims.tenant as { id: string }).id = 't2'));
  assert.deepEqual((await i.introspect(TOKEN)).claims.tenant, { id: 't1' });
});

test('a given dispatcher carries the requests and is left open by close()', async (t) => {
  const { url, requests } = await startAuthServer(t, () => ACTIVE);
  const dispatcher = new Agent();
  t.after(() => dispatcher.close());
  const i = new Introspector(
    { url, clientId: 'g', clientSecret: 's' },
    { dispatcher, now: () => START },
  );
  await i.introspect(TOKEN);
  await i.close();
  assert.equal(dispatcher.closed, false);
  assert.equal(requests.length, 1);
});

test('after close(), introspection is unavailable and the cache is gone', async (t) => {
  const { url, requests } = await startAuthServer(t, () => ACTIVE);
  const { introspector: i } = introspector(t, url);
  await i.introspect(TOKEN);
  await i.close();
  await unavailable(i.introspect(TOKEN), /closed/);
  assert.equal(requests.length, 1);
  await i.close(); // a second close is harmless
});
