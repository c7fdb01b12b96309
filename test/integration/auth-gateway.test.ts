import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startDemoBackends, type DemoBackends } from '../../demo/backends.ts';
import {
  createGatewayVerifier,
  DEMO_IDENTITY_HEADERS,
  DEMO_PROOF,
  ProofRejectedError,
  type GatewayVerifier,
} from '../../demo/gateway-verifier.ts';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import {
  assertIdentityAtBackend,
  assertUnauthenticated,
  FIXTURE_PROTOS,
  FORWARDED,
  grpcClient,
  HttpRecord,
  portService,
  PROTOS,
  readHeaders,
  readMetadata,
  send,
  SPOOFED_HEADERS,
  startRecordingRest,
  type GrpcTestClient,
  usersRoute,
} from '../helpers/auth-surfaces.ts';
import { startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';
import {
  AUDIENCE,
  generateKey,
  generateTestKeys,
  jwksOf,
  sign,
  startJwksServer,
  startTokenFixture,
  tokenCases,
  type JwksServer,
  type TestKey,
  type TokenFixture,
} from '../helpers/tokens.ts';

/**
 * Authentication through the real gateway, on every surface (GraphQL, REST routes, transcoded
 * gRPC methods, the gRPC port), in front of the real demo backends (a REST service behind both
 * the REST adapter and routes and the gRPC port, a gRPC service behind the gRPC adapter and
 * transcoding, a native subgraph) that refuse any call without the gateway's proof, verified
 * against the gateway's own /.well-known/jwks.json. Every case asserts the status, the
 * `WWW-Authenticate` challenge, the body, and what each backend received (nothing, for a
 * rejection). Tokens are judged at the fixture's clock (`wallClock`), so the cases one second
 * from the tolerance edge are exact.
 */

const SCHEMAS = join(import.meta.dirname, '../../schemas');

/** Issuers besides the fixture's, each with its own JWKS server and timings. */
const ROTATING = 'https://rotating.gateway.test/';
const FLAKY = 'https://flaky.gateway.test/';
const COLD = 'https://cold.gateway.test/';
const FLOOD = 'https://flood.gateway.test/';

/** The identity the fixture's standard claims give (sub, scope, client_id). */
const USER_1 = { subject: 'user-1', scopes: 'users:read orders:write', clientId: 'web' };

const apiKey = () => `gw_${randomBytes(24).toString('base64url')}`;
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const ACME_KEY = apiKey();
const REVOKED_KEY = apiKey();
const ACME = { subject: 'partner-acme', scopes: 'orders:read', clientId: 'acme' };

/** A product query: the native subgraph, and only it, is called. */
const PRODUCT_QUERY = { query: '{ product(id: "p1") { name } }' };
const PRODUCT_DATA = { product: { name: 'Mechanical keyboard' } };
/** Touches all three subgraphs: users (REST adapter), orders (gRPC adapter), products (native). */
const USER_QUERY = {
  query: '{ user(id: "3") { name orders { id items { product { name } } } } }',
};

describe('authentication through the gateway, on every surface', () => {
  let fixture: TokenFixture;
  let rotating: JwksServer;
  let flaky: JwksServer;
  let cold: JwksServer;
  let flood: JwksServer;
  let rotatingKeys: { before: TestKey; after: TestKey };
  let backends: DemoBackends;
  const users = new HttpRecord();
  const products = new HttpRecord();
  const orderCalls: grpc.Metadata[] = [];
  let books: Awaited<ReturnType<typeof startRecordingRest>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  let usersGrpc: GrpcTestClient;
  let booksGrpc: GrpcTestClient;
  /** The backends' proof check, made once the gateway (and so its JWKS URL) exists. */
  let proofCheck: GatewayVerifier | undefined;

  /** Calls that reached any backend so far. */
  const backendCalls = () => users.count + products.count + orderCalls.length + books.record.count;

  function config(apiKeys: { name: string; key: string; client_id: string; scopes: string[] }[]) {
    const remote = (issuer: string, jwks: JwksServer, timings: object) => ({
      issuer,
      audiences: [AUDIENCE],
      jwks_url: jwks.url,
      ...timings,
    });
    return stringify({
      federation_version: '=2.3.0',
      subgraphs: {
        users: {
          schema: { file: './users.graphql' },
          source: { kind: 'rest', base_url: backends.users.url, forward_headers: FORWARDED },
        },
        orders: {
          schema: { file: './orders.graphql' },
          source: {
            kind: 'grpc',
            address: backends.orders.url,
            protos: ['demo/orders/v1/orders.proto'],
            include_dirs: [PROTOS],
            forward_headers: FORWARDED,
          },
        },
        products: {
          routing_url: backends.products.url,
          schema: { file: './products.graphql' },
          // Even named here, the identity names never pass from the client.
          forward_headers: FORWARDED,
        },
      },
      transcode: {
        orders: {
          subgraph: 'orders',
          forward_headers: FORWARDED,
          method_auth: { CreateOrder: 'required', ListOrdersByUser: 'none' },
        },
      },
      grpc_server: {
        port: 0,
        services: {
          users: portService('demo/users/v1/users.proto', PROTOS, backends.users.url),
          books: portService('annotated/v1/annotated.proto', FIXTURE_PROTOS, books.url, 'required'),
        },
      },
      routes: [
        usersRoute(backends.users.url, 'users', '/api/users'),
        usersRoute(backends.users.url, 'private-users', '/private/users', 'required'),
        usersRoute(backends.users.url, 'open-users', '/open/users', 'none'),
      ],
      auth: {
        jwt: [
          // The table's issuer: one cooldown lasts the whole file, so a refetch is counted.
          remote(fixture.issuer, fixture.jwks, {
            clock_tolerance: `${fixture.toleranceS}s`,
            jwks_cooldown: '1h',
          }),
          // Refetches for any unknown kid: rotation is picked up at once.
          remote(ROTATING, rotating, { jwks_cooldown: '1ms' }),
          // Refreshed every 100 ms, so it is asked (and fails) while it is down.
          remote(FLAKY, flaky, { jwks_cooldown: '100ms', jwks_max_age: '100ms' }),
          // Down at start: retried every 100 ms until it answers.
          remote(COLD, cold, { jwks_cooldown: '100ms' }),
          remote(FLOOD, flood, { jwks_cooldown: '1h' }),
        ],
        api_keys: {
          keys: apiKeys.map(({ key, ...entry }) => ({ ...entry, sha256: sha256(key) })),
        },
      },
    });
  }

  const API_KEYS = [
    { name: ACME.subject, key: ACME_KEY, client_id: ACME.clientId, scopes: [ACME.scopes] },
    { name: 'partner-revoked', key: REVOKED_KEY, client_id: 'revoked', scopes: [] },
  ];

  before(async () => {
    // RSA key generation is the slow part: one set for the file.
    const keys = await generateTestKeys();
    fixture = await startTokenFixture({ keys });
    rotatingKeys = {
      before: await generateKey('ES256', 'rotating-1'),
      after: await generateKey('ES256', 'rotating-2'),
    };
    rotating = await startJwksServer(jwksOf(rotatingKeys.before));
    flaky = await startJwksServer(jwksOf(keys.ec));
    cold = await startJwksServer(jwksOf(keys.ed));
    cold.setMode('down');
    flood = await startJwksServer(jwksOf(keys.ed));
    const lazyCheck: GatewayVerifier = {
      headers: DEMO_IDENTITY_HEADERS,
      verify: (read) =>
        proofCheck
          ? proofCheck.verify(read)
          : Promise.reject(new ProofRejectedError('the gateway is not started yet')),
    };
    backends = await startDemoBackends(
      { users: 0, orders: 0, products: 0 },
      {
        onUsersRequest: (req) => users.push(req),
        onOrdersCall: (md) => orderCalls.push(md),
        onProductsRequest: (req) => products.push(req),
        verifier: lazyCheck,
      },
    );
    books = await startRecordingRest();
    project = await writeProject([]);
    for (const name of ['users', 'orders', 'products'])
      await project.write(
        `${name}.graphql`,
        await readFile(join(SCHEMAS, `${name}.graphql`), 'utf8'),
      );
    await project.write('supergraph.yaml', config(API_KEYS));
    gateway = await startTestGateway({
      configFile: project.configFile,
      wallClock: () => fixture.nowS * 1000,
    });
    proofCheck = createGatewayVerifier({
      jwksUrl: `${gateway.origin}/.well-known/jwks.json`,
      ...DEMO_PROOF,
    });
    const address = gateway.running.grpcAddress as string;
    usersGrpc = grpcClient(address, 'demo/users/v1/users.proto', 'demo.users.v1.UserService');
    booksGrpc = grpcClient(address, 'annotated/v1/annotated.proto', 'annotated.v1.Books', [
      FIXTURE_PROTOS,
    ]);
  });

  after(async () => {
    usersGrpc.close();
    booksGrpc.close();
    await gateway.close();
    await Promise.all([
      backends.close(),
      books.close(),
      fixture.close(),
      rotating.close(),
      flaky.close(),
      cold.close(),
      flood.close(),
    ]);
    await project.remove();
  });

  const graphql = (body: unknown, headers: Record<string, string | string[]> = {}) =>
    send(gateway.url, { body, headers });
  const rest = (
    path: string,
    headers: Record<string, string | string[]> = {},
    options: { method?: string; body?: unknown } = {},
  ) => send(`${gateway.origin}${path}`, { headers, ...options });
  /** Every credential a test sent: the last test finds none of them in the logs. */
  const sent = new Set<string>([ACME_KEY, REVOKED_KEY]);
  const bearer = (token: string) => {
    sent.add(token);
    return { authorization: `Bearer ${token}` };
  };
  const logLine = (correlationId: string) =>
    gateway.logs.find((l) => l.msg === 'request' && l.correlationId === correlationId);
  /** A valid token of the fixture's issuer, or of another issuer with the fixture's claims. */
  const validToken = (issuer = fixture.issuer, key: TestKey = fixture.keys.rsa, kid?: string) =>
    sign(fixture.claims({ iss: issuer }), { key, ...(kid ? { kid } : {}) });

  test('every token case of the table gets its answer through GraphQL; a rejection calls no backend and looks like every other', async (t) => {
    const cases = tokenCases(fixture);
    const tokens = await Promise.all(cases.map((c) => c.token()));
    const rejections = new Set<string>();
    for (const [index, c] of cases.entries()) {
      await t.test(c.name, async () => {
        const token = tokens[index] as string;
        const correlationId = `table-${index}`;
        const before = { products: products.count, all: backendCalls() };
        const res = await graphql(PRODUCT_QUERY, {
          ...bearer(token),
          'x-correlation-id': correlationId,
        });
        const line = await logLine(correlationId);
        if (c.expect === 'ok') {
          assert.equal(res.status, 200, res.text);
          assert.deepEqual(res.json, { data: PRODUCT_DATA });
          assert.equal(products.count, before.products + 1);
          assertIdentityAtBackend(
            readHeaders(products.last()),
            products.last(),
            USER_1,
            'products',
          );
          assert.equal(line.auth, 'jwt');
          return;
        }
        // A credential that is not even an RFC 6750 b64token is refused before any JWT parsing.
        const b64token = /^[A-Za-z0-9\-._~+/]+=*$/.test(token);
        const reason = b64token ? c.reason : 'malformed authorization';
        const malformed = reason === 'malformed' || reason === 'malformed authorization';
        rejections.add(
          assertUnauthenticated(res, 'graphql', malformed ? 'invalid_request' : 'invalid_token'),
        );
        assert.equal(backendCalls(), before.all, 'a rejected request calls no backend');
        assert.equal(line.auth, 'rejected');
        assert.equal(line.authFailure, reason);
        assert.equal(line.status, 401);
        if (token.length > 0)
          assert.ok(!JSON.stringify(line).includes(token), 'the token is never logged');
      });
    }
    // Every rejection, whatever failed, is the same body.
    assert.equal(rejections.size, 1, [...rejections].join('\n'));
    // The attacker's jku and x5u were never followed.
    assert.equal(fixture.attacker.requests, 0);
    // The JWKS was fetched once, at start: the table's unknown kids came within its cooldown.
    assert.equal(fixture.jwks.requests, 1);
  });

  test('a bad token is refused on every surface, none of them calls a backend, and the log line says why', async () => {
    const token = await sign(fixture.claims(), {
      key: fixture.keys.stranger,
      kid: fixture.keys.rsa.kid,
    });
    const before = backendCalls();
    const id = (surface: string) => ({ ...bearer(token), 'x-correlation-id': `bad-${surface}` });
    assertUnauthenticated(await graphql(PRODUCT_QUERY, id('graphql')), 'graphql', 'invalid_token');
    const route = assertUnauthenticated(
      await rest('/api/users/1', id('route')),
      'rest',
      'invalid_token',
    );
    const transcoded = assertUnauthenticated(
      await rest('/v1/orders/1', id('transcoded')),
      'rest',
      'invalid_token',
    );
    assert.equal(route, transcoded);
    const { error } = await usersGrpc.call('GetUser', { id: '1' }, id('grpc'));
    assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(error?.details, 'The request is not authenticated.');
    assert.equal(backendCalls(), before);
    for (const surface of ['graphql', 'route', 'transcoded', 'grpc']) {
      const line = await logLine(`bad-${surface}`);
      assert.equal(line.authFailure, 'bad signature', surface);
      assert.ok(!JSON.stringify(line).includes(token), `${surface}: the token is never logged`);
    }
  });

  test('a missing credential where an endpoint requires one is 401 without an error attribute; a valid one is served', async () => {
    const before = backendCalls();
    assertUnauthenticated(await rest('/private/users/1'), 'rest', undefined);
    const order = { userId: '2', items: [{ productId: 'p2', quantity: 1 }] };
    assertUnauthenticated(await rest('/v1/orders', {}, { body: order }), 'rest', undefined);
    const { error } = await booksGrpc.call('GetBook', { name: 'shelves/1/books/1' });
    assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(backendCalls(), before);

    const auth = bearer(await validToken());
    assert.equal((await rest('/private/users/1', auth)).json?.name, 'Ada Lovelace');
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), USER_1, 'route');
    const created = await rest('/v1/orders', auth, { body: order });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.json.userId, '2');
    assertIdentityAtBackend(
      readMetadata(orderCalls.at(-1)!),
      orderCalls.at(-1)!,
      USER_1,
      'transcoded',
    );
    assert.equal(
      (await booksGrpc.call('GetBook', { name: 'shelves/1/books/1' }, auth)).error,
      undefined,
    );
    assertIdentityAtBackend(
      readHeaders(books.record.last()),
      books.record.last(),
      USER_1,
      'gRPC port',
    );
  });

  test('where auth is optional (every surface by default) a caller without a credential is served anonymously', async () => {
    assert.deepEqual((await graphql(PRODUCT_QUERY)).json, { data: PRODUCT_DATA });
    assertIdentityAtBackend(readHeaders(products.last()), products.last(), undefined, 'products');
    assert.equal((await rest('/api/users/1')).json?.name, 'Ada Lovelace');
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), undefined, 'route');
    assert.equal((await rest('/v1/orders/1')).json?.id, '1');
    assertIdentityAtBackend(
      readMetadata(orderCalls.at(-1)!),
      orderCalls.at(-1)!,
      undefined,
      'transcoded',
    );
    assert.equal((await usersGrpc.call('GetUser', { id: '1' })).reply?.name, 'Ada Lovelace');
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), undefined, 'gRPC port');
  });

  test('where auth is none the credential is not read: a bad one is served anonymously', async () => {
    const bad = bearer('not.a.jwt');
    assert.equal((await rest('/open/users/1', bad)).json?.name, 'Ada Lovelace');
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), undefined, 'route');
    const orders = await rest('/v1/users/1/orders', bad);
    assert.equal(orders.status, 200, orders.text);
    assertIdentityAtBackend(
      readMetadata(orderCalls.at(-1)!),
      orderCalls.at(-1)!,
      undefined,
      'transcoded',
    );
    // A good one is not read either: the endpoint serves everyone alike.
    assert.equal((await rest('/open/users/1', bearer(await validToken()))).status, 200);
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), undefined, 'route');
  });

  describe('the issuer’s keys', () => {
    // The flood issuer's cooldown (1 h) outlasts the file, so its one fetch per cooldown is the
    // one at start; that an unknown kid does refetch once the cooldown allows is the rotation's.
    test('100 requests with random unknown kids cause at most one JWKS fetch per cooldown', async () => {
      const tokens = await Promise.all(
        Array.from({ length: 100 }, () =>
          validToken(FLOOD, fixture.keys.ed, randomBytes(8).toString('hex')),
        ),
      );
      const answers = await Promise.all(
        tokens.map((token) => graphql(PRODUCT_QUERY, bearer(token))),
      );
      for (const res of answers) assertUnauthenticated(res, 'graphql', 'invalid_token');
      // One fetch in the cooldown (1 h): the one at start. No kid, however new, adds another.
      assert.equal(flood.requests, 1);
      // The keys held still verify.
      const ok = await graphql(PRODUCT_QUERY, bearer(await validToken(FLOOD, fixture.keys.ed)));
      assert.deepEqual(ok.json, { data: PRODUCT_DATA });
      assert.equal(flood.requests, 1);
    });

    test('a rotated key is picked up without a restart, and a retired one is refused', async () => {
      const old = await validToken(ROTATING, rotatingKeys.before);
      assert.deepEqual((await graphql(PRODUCT_QUERY, bearer(old))).json, { data: PRODUCT_DATA });
      const fetches = rotating.requests;
      rotating.setKeys(jwksOf(rotatingKeys.after));
      // The cooldown is 1 ms of the gateway's monotonic clock: let it pass for certain.
      await sleep(5);
      const rotated = await validToken(ROTATING, rotatingKeys.after);
      assert.deepEqual((await graphql(PRODUCT_QUERY, bearer(rotated))).json, {
        data: PRODUCT_DATA,
      });
      assert.equal(rotating.requests, fetches + 1, 'one refetch for the new kid');
      await sleep(5);
      // The old token was verified and cached before; the key set changed, so it is judged again.
      assertUnauthenticated(
        await graphql(PRODUCT_QUERY, { ...bearer(old), 'x-correlation-id': 'retired-key' }),
        'graphql',
        'invalid_token',
      );
      assert.equal((await logLine('retired-key')).authFailure, 'unknown key');
      // Its kid unknown now, it caused one refetch (which did not bring it back), then a 401.
      assert.equal(rotating.requests, fetches + 2);
    });

    test('with the JWKS endpoint down, the keys fetched before keep verifying', async () => {
      assert.deepEqual(
        (await graphql(PRODUCT_QUERY, bearer(await validToken(FLAKY, fixture.keys.ec)))).json,
        {
          data: PRODUCT_DATA,
        },
      );
      flaky.setMode('down');
      try {
        // Two refreshes while down: the first has failed by the time the second begins.
        for (let seen = 0; seen < 2; seen++) await once(flaky.events, 'request');
        const fresh = await sign(fixture.claims({ iss: FLAKY, sub: 'user-2' }), {
          key: fixture.keys.ec,
        });
        const res = await graphql(PRODUCT_QUERY, bearer(fresh));
        assert.deepEqual(res.json, { data: PRODUCT_DATA });
        assertIdentityAtBackend(
          readHeaders(products.last()),
          products.last(),
          { ...USER_1, subject: 'user-2' },
          'products',
        );
        // An unknown kid is still just that: 401, not 503, since keys are held.
        const unknown = await validToken(FLAKY, fixture.keys.ec, 'not-published');
        assertUnauthenticated(
          await graphql(PRODUCT_QUERY, bearer(unknown)),
          'graphql',
          'invalid_token',
        );
      } finally {
        flaky.setMode('ok');
      }
    });

    test('with no keys ever fetched, a token is 503 AUTH_UNAVAILABLE (not 500), and served once the endpoint is back', async () => {
      const token = await validToken(COLD, fixture.keys.ed);
      const before = backendCalls();
      const res = await graphql(PRODUCT_QUERY, { ...bearer(token), 'x-correlation-id': 'cold' });
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json.errors[0].extensions.code, 'AUTH_UNAVAILABLE');
      assert.equal(res.headers['www-authenticate'], undefined);
      const route = await rest('/api/users/1', bearer(token));
      assert.equal(route.status, 503, route.text);
      assert.equal(route.json.details[0].reason, 'AUTH_UNAVAILABLE');
      const { error } = await usersGrpc.call('GetUser', { id: '1' }, bearer(token));
      assert.equal(error?.code, grpc.status.UNAVAILABLE);
      assert.equal(backendCalls(), before);
      assert.equal((await logLine('cold')).status, 503);

      cold.setMode('ok');
      // The gateway retries on its own, once per cooldown: the next attempt finds the keys.
      await once(cold.events, 'request');
      const served = await graphql(PRODUCT_QUERY, bearer(token));
      assert.deepEqual(served.json, { data: PRODUCT_DATA });
    });
  });

  describe('API keys', () => {
    const acme = { 'x-api-key': ACME_KEY };

    test('a valid key is served with its identity', async () => {
      assert.deepEqual((await graphql(PRODUCT_QUERY, acme)).json, { data: PRODUCT_DATA });
      assertIdentityAtBackend(readHeaders(products.last()), products.last(), ACME, 'products');
      assert.equal((await usersGrpc.call('GetUser', { id: '1' }, acme)).reply?.id, '1');
      assertIdentityAtBackend(readHeaders(users.last()), users.last(), ACME, 'gRPC port');
    });

    test('a key wrong by one character gets exactly the answer a bad token gets', async () => {
      const last = ACME_KEY.at(-1) === 'A' ? 'B' : 'A';
      const wrong = await graphql(PRODUCT_QUERY, {
        'x-api-key': `${ACME_KEY.slice(0, -1)}${last}`,
        'x-correlation-id': 'wrong-key',
      });
      const badToken = await graphql(PRODUCT_QUERY, bearer(`${await validToken()}x`));
      assert.equal(
        assertUnauthenticated(wrong, 'graphql', 'invalid_token'),
        assertUnauthenticated(badToken, 'graphql', 'invalid_token'),
      );
      assert.equal(wrong.text, badToken.text);
      assert.equal(wrong.headers['www-authenticate'], badToken.headers['www-authenticate']);
      assert.equal((await logLine('wrong-key')).authFailure, 'unknown api key');
    });

    test('a key removed from supergraph.yaml is refused after the reload, without a restart', async () => {
      const revoked = { 'x-api-key': REVOKED_KEY };
      assert.equal((await graphql(PRODUCT_QUERY, revoked)).status, 200);
      const reloaded = once(gateway.running.app.manager, 'reload');
      await project.write('supergraph.yaml', config(API_KEYS.filter((k) => k.key !== REVOKED_KEY)));
      const [outcome] = (await reloaded) as [ReloadOutcome];
      assert.equal(outcome.ok, true);
      const before = backendCalls();
      assertUnauthenticated(await graphql(PRODUCT_QUERY, revoked), 'graphql', 'invalid_token');
      assertUnauthenticated(await rest('/api/users/1', revoked), 'rest', 'invalid_token');
      assert.equal(
        (await usersGrpc.call('GetUser', { id: '1' }, revoked)).error?.code,
        grpc.status.UNAUTHENTICATED,
      );
      assert.equal(backendCalls(), before);
      // The other key, and tokens, are untouched by the reload.
      assert.equal((await graphql(PRODUCT_QUERY, acme)).status, 200);
      assert.equal((await graphql(PRODUCT_QUERY, bearer(await validToken()))).status, 200);
    });
  });

  describe('identity a client sends never reaches a backend', () => {
    for (const caller of ['anonymous', 'authenticated'] as const) {
      test(`${caller}: every kind of backend sees the verified identity and the gateway's proof, never the client's values`, async () => {
        const expected = caller === 'anonymous' ? undefined : USER_1;
        const headers = {
          ...SPOOFED_HEADERS,
          'x-tenant': 'acme',
          ...(caller === 'anonymous' ? {} : bearer(await validToken())),
        };

        // GraphQL: the REST adapter, the gRPC adapter and the native subgraph.
        const marks = { users: users.count, orders: orderCalls.length, products: products.count };
        const res = await graphql(USER_QUERY, headers);
        assert.equal(res.json.data?.user?.name, 'Grace Hopper', res.text);
        assert.ok(users.count > marks.users && orderCalls.length > marks.orders);
        assert.ok(products.count > marks.products);
        for (const seen of users.requests.slice(marks.users).map((r) => r.headers)) {
          assertIdentityAtBackend(readHeaders(seen), seen, expected, 'REST adapter');
          assert.equal(seen['x-tenant'], 'acme', 'source.forward_headers still pass others');
        }
        for (const md of orderCalls.slice(marks.orders)) {
          assertIdentityAtBackend(readMetadata(md), md, expected, 'gRPC adapter');
          assert.deepEqual(md.get('x-tenant'), ['acme']);
        }
        for (const seen of products.requests.slice(marks.products).map((r) => r.headers)) {
          assertIdentityAtBackend(readHeaders(seen), seen, expected, 'native subgraph');
          assert.equal(seen['x-tenant'], 'acme');
        }

        // A REST route.
        assert.equal((await rest('/api/users/1', headers)).status, 200);
        assertIdentityAtBackend(readHeaders(users.last()), users.last(), expected, 'route');
        assert.equal(users.last()['x-tenant'], 'acme');

        // A transcoded method, spoofing in plain headers and in Grpc-Metadata-* ones.
        assert.equal((await rest('/v1/orders/1', headers)).status, 200);
        const md = orderCalls.at(-1)!;
        assertIdentityAtBackend(readMetadata(md), md, expected, 'transcoded method');
        assert.deepEqual(md.get('x-tenant'), ['acme']);

        // The gRPC port, spoofing in metadata.
        const { reply, error } = await usersGrpc.call('GetUser', { id: '1' }, headers);
        assert.equal(error, undefined);
        assert.equal(reply?.name, 'Ada Lovelace');
        assertIdentityAtBackend(readHeaders(users.last()), users.last(), expected, 'gRPC port');
        assert.equal(users.last()['x-tenant'], 'acme');
      });
    }
  });

  test('a field that needs a scope is null with an error at its path for a token without it, and the rest is served', async () => {
    const query = { query: '{ user(id: "1") { name email } }' };
    const anonymous = await graphql(query);
    assert.equal(anonymous.status, 200);
    assert.deepEqual(anonymous.json.data, { user: { name: 'Ada Lovelace', email: null } });
    assert.deepEqual(anonymous.json.errors[0].path, ['user', 'email']);
    assert.equal(anonymous.json.errors[0].extensions.code, 'UNAUTHENTICATED');

    // The fixture's tokens carry `users:read orders:write`, not `users:email`.
    const unscoped = await graphql(query, bearer(await validToken()));
    assert.equal(unscoped.status, 200);
    assert.deepEqual(unscoped.json.data, { user: { name: 'Ada Lovelace', email: null } });
    assert.deepEqual(unscoped.json.errors[0].path, ['user', 'email']);
    assert.equal(unscoped.json.errors[0].extensions.code, 'FORBIDDEN');

    const scoped = await sign(fixture.claims({ scope: 'users:email' }), { key: fixture.keys.rsa });
    const allowed = await graphql(query, bearer(scoped));
    assert.deepEqual(allowed.json, {
      data: { user: { name: 'Ada Lovelace', email: 'ada@example.com' } },
    });
  });

  test('a backend refuses a direct call without the gateway’s proof, and serves the same call through the gateway', async () => {
    const direct = await request(`${backends.users.url}/users/1`);
    assert.equal(direct.statusCode, 401);
    await direct.body.dump();
    // Spoofed identity headers without a proof the gateway signed: refused all the same.
    const spoofed = await request(`${backends.users.url}/users/1`, { headers: SPOOFED_HEADERS });
    assert.equal(spoofed.statusCode, 401);
    await spoofed.body.dump();
    const viaGateway = await rest('/api/users/1');
    assert.deepEqual(viaGateway.json, { id: '1', name: 'Ada Lovelace', email: 'ada@example.com' });

    const directGraphQL = await send(backends.products.url, { body: PRODUCT_QUERY });
    assert.equal(directGraphQL.status, 401);
    assert.equal(directGraphQL.json.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.deepEqual((await graphql(PRODUCT_QUERY)).json, { data: PRODUCT_DATA });

    const orders = grpcClient(
      backends.orders.url,
      'demo/orders/v1/orders.proto',
      'demo.orders.v1.OrderService',
    );
    try {
      assert.equal(
        (await orders.call('GetOrder', { id: '1' })).error?.code,
        grpc.status.UNAUTHENTICATED,
      );
    } finally {
      orders.close();
    }
    assert.equal((await rest('/v1/orders/1')).json?.id, '1');
  });

  describe('malformed Authorization headers are 401, never 500', () => {
    // [name, headers, the log line's reason, whether the gRPC port can be sent them at all]
    const cases: [string, () => Promise<Record<string, string | string[]>>, string, boolean][] = [
      [
        'another scheme',
        async () => ({ authorization: 'Basic dXNlcjpwYXNzd29yZA==' }),
        'malformed authorization',
        true,
      ],
      ['Bearer alone', async () => ({ authorization: 'Bearer' }), 'malformed authorization', true],
      [
        'two tokens in one header',
        async () => ({ authorization: `Bearer ${await validToken()} ${await validToken()}` }),
        'malformed authorization',
        true,
      ],
      [
        'two Bearer credentials folded into one header',
        async () => ({
          authorization: `Bearer ${await validToken()}, Bearer ${await validToken()}`,
        }),
        'malformed authorization',
        true,
      ],
      [
        'a token and an API key',
        async () => ({ ...bearer(await validToken()), 'x-api-key': ACME_KEY }),
        'two credentials',
        true,
      ],
      // grpc-js refuses to send authorization metadata twice: HTTP only.
      [
        'a repeated Authorization header, each a valid token',
        async () => ({
          authorization: [
            `Bearer ${await validToken()}`,
            `Bearer ${await validToken(fixture.issuer, fixture.keys.ec)}`,
          ],
        }),
        'repeated credential header',
        false,
      ],
      [
        'a 15 KB header',
        async () => ({ authorization: `Bearer ${'a'.repeat(15 * 1024)}` }),
        'malformed',
        true,
      ],
    ];
    for (const [name, headersOf, reason, overGrpc] of cases) {
      test(name, async () => {
        const headers = await headersOf();
        for (const value of Object.values(headers).flat()) sent.add(value);
        const before = backendCalls();
        const id = (surface: string) => ({
          ...headers,
          'x-correlation-id': `${name.replaceAll(/[^a-z0-9]+/gi, '-')}-${surface}`,
        });
        assertUnauthenticated(
          await graphql(PRODUCT_QUERY, id('graphql')),
          'graphql',
          'invalid_request',
        );
        assertUnauthenticated(await rest('/api/users/1', id('route')), 'rest', 'invalid_request');
        assertUnauthenticated(
          await rest('/v1/orders/1', id('transcoded')),
          'rest',
          'invalid_request',
        );
        const surfaces = ['graphql', 'route', 'transcoded'];
        if (overGrpc) {
          const { error } = await usersGrpc.call('GetUser', { id: '1' }, id('grpc'));
          assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
          surfaces.push('grpc');
        }
        assert.equal(backendCalls(), before);
        for (const surface of surfaces)
          assert.equal(
            (await logLine(id(surface)['x-correlation-id'])).authFailure,
            reason,
            surface,
          );
      });
    }

    test('a 20 KB header: refused by the HTTP server with 431 before the gateway reads it; the gRPC port answers UNAUTHENTICATED', async () => {
      // Node's HTTP parser bounds a request's headers at 16 KiB (--max-http-header-size): a
      // longer credential never reaches the stages. Still a refusal, never 500, no backend called.
      const headers = { authorization: `Bearer ${'a'.repeat(20 * 1024)}` };
      sent.add(headers.authorization);
      const before = backendCalls();
      for (const path of [new URL(gateway.url).pathname, '/api/users/1', '/v1/orders/1']) {
        const res = await send(`${gateway.origin}${path}`, { headers });
        assert.equal(res.status, 431, path);
      }
      const { error } = await usersGrpc.call(
        'GetUser',
        { id: '1' },
        { ...headers, 'x-correlation-id': 'huge-grpc' },
      );
      assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
      assert.equal((await logLine('huge-grpc')).authFailure, 'malformed authorization');
      assert.equal(backendCalls(), before);
    });
  });

  test('no log line holds a credential, and the attacker’s server was never asked', () => {
    const logged = gateway.logs.text();
    // Short values ("Bearer", "abc") would match by chance; every real credential is longer.
    for (const credential of [...sent].filter((c) => c.length >= 16))
      assert.ok(!logged.includes(credential), `logged: ${credential.slice(0, 40)}...`);
    assert.equal(fixture.attacker.requests, 0);
  });
});
