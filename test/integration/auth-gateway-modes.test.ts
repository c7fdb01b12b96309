import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { startOrdersGrpc } from '../../demo/backends/orders-grpc.ts';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import {
  assertIdentityAtBackend,
  assertUnauthenticated,
  bearerChallenge,
  FIXTURE_PROTOS,
  FORWARDED,
  grpcClient,
  HttpRecord,
  portService,
  PROTOS,
  readHeaders,
  readMetadata,
  send,
  startIntrospectionServer,
  startRecordingRest,
  type GrpcTestClient,
  type IntrospectionServer,
  usersRoute,
} from '../helpers/auth-surfaces.ts';
import {
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';
import type { SubgraphServer } from '../helpers/subgraph-server.ts';

/**
 * Who must authenticate, through the real gateway on every surface, with every surface
 * `required` and endpoints that say `optional` or `none`; and opaque tokens checked by RFC 7662
 * introspection. Backends are real servers on loopback that record what reached them.
 */

const API_KEY = `gw_${randomBytes(24).toString('base64url')}`;
const PARTNER = { subject: 'partner', scopes: 'orders:read', clientId: 'partner-app' };

describe('auth modes and introspection through the gateway (every surface required)', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let graph: SubgraphServer;
  const users = new HttpRecord();
  let usersBackend: RunningBackend;
  const orderCalls: grpc.Metadata[] = [];
  let ordersBackend: RunningBackend;
  let books: Awaited<ReturnType<typeof startRecordingRest>>;
  let introspection: IntrospectionServer;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  let usersGrpc: GrpcTestClient;
  let booksGrpc: GrpcTestClient;
  let libraryGrpc: GrpcTestClient;

  /** How many calls reached any backend so far. */
  const backendCalls = () =>
    graph.received.length + users.count + orderCalls.length + books.record.count;

  /** The gateway's config, with every surface demanding `surfaces` (endpoints say otherwise). */
  function config(surfaces: 'required' | 'none'): string {
    return stringify({
      federation_version: '=2.3.0',
      subgraphs: {
        accounts: {
          routing_url: graph.url,
          schema: { file: './accounts.graphql' },
          forward_headers: FORWARDED,
        },
      },
      transcode: {
        orders: {
          address: ordersBackend.url,
          protos: ['demo/orders/v1/orders.proto'],
          include_dirs: [PROTOS],
          forward_headers: FORWARDED,
          method_auth: { GetOrder: 'none', ListOrdersByUser: 'optional' },
        },
      },
      grpc_server: {
        port: 0,
        services: {
          users: portService('demo/users/v1/users.proto', PROTOS, usersBackend.url),
          books: portService('annotated/v1/annotated.proto', FIXTURE_PROTOS, books.url, 'none'),
          library: portService('transcode/v1/library.proto', FIXTURE_PROTOS, books.url, 'optional'),
        },
      },
      routes: [
        usersRoute(usersBackend.url, 'users', '/api/users'),
        usersRoute(usersBackend.url, 'open-users', '/open/users', 'optional'),
        usersRoute(usersBackend.url, 'none-users', '/none/users', 'none'),
      ],
      auth: {
        surfaces: { graphql: surfaces, rest: surfaces, grpc: surfaces },
        introspection: {
          url: introspection.url,
          client_id: 'gateway',
          client_secret: 'introspection-secret',
        },
        api_keys: {
          keys: [
            {
              name: PARTNER.subject,
              sha256: createHash('sha256').update(API_KEY).digest('hex'),
              client_id: PARTNER.clientId,
              scopes: [PARTNER.scopes],
            },
          ],
        },
      },
    });
  }

  before(async () => {
    subgraphs = await startSubgraphs([accounts]);
    graph = subgraphs.servers[0]!;
    usersBackend = await startUsersRest({ onRequest: (req) => users.push(req) });
    ordersBackend = await startOrdersGrpc({ onCall: (md) => orderCalls.push(md) });
    books = await startRecordingRest();
    introspection = await startIntrospectionServer();
    project = await writeProject([graph]);
    await project.write('supergraph.yaml', config('required'));
    gateway = await startTestGateway({ configFile: project.configFile });
    const address = gateway.running.grpcAddress as string;
    usersGrpc = grpcClient(address, 'demo/users/v1/users.proto', 'demo.users.v1.UserService');
    booksGrpc = grpcClient(address, 'annotated/v1/annotated.proto', 'annotated.v1.Books', [
      FIXTURE_PROTOS,
    ]);
    libraryGrpc = grpcClient(address, 'transcode/v1/library.proto', 'transcode.v1.Library', [
      FIXTURE_PROTOS,
    ]);
  });

  after(async () => {
    usersGrpc.close();
    booksGrpc.close();
    libraryGrpc.close();
    await gateway.close();
    await Promise.all([
      subgraphs.close(),
      usersBackend.close(),
      ordersBackend.close(),
      books.close(),
      introspection.close(),
    ]);
    await project.remove();
  });

  const graphql = (headers: Record<string, string> = {}) =>
    send(gateway.url, { body: { query: '{ me { id } }' }, headers });
  const rest = (path: string, headers: Record<string, string> = {}, body?: unknown) =>
    send(`${gateway.origin}${path}`, { headers, body });

  /** The request's log line, by the correlation id the test gave it. */
  const logLine = (correlationId: string) =>
    gateway.logs.find((l) => l.msg === 'request' && l.correlationId === correlationId);

  test('without a credential, every surface that is required answers 401 without an error attribute, and no backend is called', async () => {
    const before = backendCalls();
    const bodies = new Set<string>();
    for (const [surface, call] of [
      ['graphql', () => graphql({ 'x-correlation-id': 'none-graphql' })],
      ['rest', () => rest('/api/users/1', { 'x-correlation-id': 'none-route' })],
      ['rest', () => rest('/v1/orders:batchGet?ids=1', { 'x-correlation-id': 'none-batch' })],
      [
        'rest',
        () => rest('/v1/orders', { 'x-correlation-id': 'none-create' }, { userId: '1', items: [] }),
      ],
    ] as const) {
      const res = await call();
      const body = assertUnauthenticated(res, surface, undefined);
      // API keys are accepted too: their challenge follows the Bearer one.
      assert.match(
        String(res.headers['www-authenticate']),
        /ApiKey realm="gateway", header="x-api-key"/,
      );
      bodies.add(`${surface} ${body}`);
    }
    // One GraphQL body and one REST body: nothing differs between the endpoints.
    assert.equal(bodies.size, 2, [...bodies].join('\n'));
    const { error } = await usersGrpc.call('GetUser', { id: '1' });
    assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(error?.details, 'The request is not authenticated.');
    // The challenge travels in the status's trailing metadata.
    assert.equal(
      error?.metadata.get('www-authenticate')[0],
      'Bearer realm="gateway", ApiKey realm="gateway", header="x-api-key"',
    );
    assert.equal(backendCalls(), before);
    for (const id of ['none-graphql', 'none-route', 'none-batch', 'none-create']) {
      const line = await logLine(id);
      assert.equal(line.authFailure, 'no credential', id);
      assert.equal(line.auth, 'anonymous', id);
    }
  });

  test('a valid API key is served on every required surface, and its identity reaches each backend', async () => {
    const key = { 'x-api-key': API_KEY };
    const res = await graphql(key);
    assert.deepEqual(res.json, { data: { me: { id: 'u1' } } });
    assertIdentityAtBackend(
      readHeaders(graph.received.at(-1)!.headers),
      graph.received.at(-1)!.headers,
      PARTNER,
      'subgraph',
    );
    assert.equal((await rest('/api/users/1', key)).status, 200);
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), PARTNER, 'route');
    assert.equal((await rest('/v1/orders:batchGet?ids=1', key)).status, 200);
    assertIdentityAtBackend(
      readMetadata(orderCalls.at(-1)!),
      orderCalls.at(-1)!,
      PARTNER,
      'transcoded',
    );
    const { reply } = await usersGrpc.call('GetUser', { id: '1' }, key);
    assert.equal(reply?.name, 'Ada Lovelace');
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), PARTNER, 'gRPC port');
  });

  test('an endpoint that says optional serves a caller without a credential anonymously, and refuses a bad one', async () => {
    const before = backendCalls();
    assert.equal((await rest('/open/users/1')).status, 200);
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), undefined, 'route');
    assert.equal((await rest('/v1/users/1/orders')).status, 200);
    assertIdentityAtBackend(
      readMetadata(orderCalls.at(-1)!),
      orderCalls.at(-1)!,
      undefined,
      'transcoded',
    );
    const { error } = await libraryGrpc.call('GetBook', { name: 'shelves/1/books/1' });
    assert.equal(error, undefined);
    assertIdentityAtBackend(
      readHeaders(books.record.last()),
      books.record.last(),
      undefined,
      'gRPC port',
    );
    assert.equal(backendCalls(), before + 3);

    const bad = { 'x-api-key': `${API_KEY.slice(0, -1)}!` };
    assertUnauthenticated(await rest('/open/users/1', bad), 'rest', 'invalid_token');
    assertUnauthenticated(await rest('/v1/users/1/orders', bad), 'rest', 'invalid_token');
    const refused = await libraryGrpc.call('GetBook', { name: 'shelves/1/books/1' }, bad);
    assert.equal(refused.error?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(backendCalls(), before + 3);

    // And the identity of a good one reaches the backend.
    assert.equal((await rest('/open/users/1', { 'x-api-key': API_KEY })).status, 200);
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), PARTNER, 'route');
  });

  test('an endpoint that says none never reads the credential: a bad one is served anonymously, a good one too', async () => {
    const asked = introspection.requests;
    const credentials: Record<string, string>[] = [
      { authorization: 'Bearer not-a-token-anyone-issued' },
      { authorization: 'Basic dXNlcjpwYXNz' },
      { 'x-api-key': 'wrong' },
      { 'x-api-key': API_KEY },
    ];
    for (const headers of credentials) {
      const label = JSON.stringify(headers);
      assert.equal((await rest('/none/users/1', headers)).status, 200, label);
      assertIdentityAtBackend(readHeaders(users.last()), users.last(), undefined, `route ${label}`);
      const order = await rest('/v1/orders/1', headers);
      assert.equal(order.status, 200, label);
      assert.equal(order.json.id, '1');
      assertIdentityAtBackend(
        readMetadata(orderCalls.at(-1)!),
        orderCalls.at(-1)!,
        undefined,
        `transcoded ${label}`,
      );
      const { error } = await booksGrpc.call('GetBook', { name: 'shelves/1/books/1' }, headers);
      assert.equal(error, undefined, label);
      assertIdentityAtBackend(
        readHeaders(books.record.last()),
        books.record.last(),
        undefined,
        `gRPC port ${label}`,
      );
    }
    // Not read: the opaque token was never introspected.
    assert.equal(introspection.requests, asked);
  });

  describe('opaque tokens (RFC 7662 introspection)', () => {
    const opaque = (name: string) => `${name}-${randomBytes(12).toString('base64url')}`;
    const activeToken = (subject: string) => {
      const token = opaque('active');
      introspection.active.set(token, {
        sub: subject,
        scope: 'orders:read users:email',
        client_id: 'mobile',
        exp: Math.floor(Date.now() / 1000) + 3600,
      });
      return token;
    };
    const expected = (subject: string) => ({
      subject,
      scopes: 'orders:read users:email',
      clientId: 'mobile',
    });

    test('an active token is served on every surface with its identity at the backend', async () => {
      const token = activeToken('user-opaque-1');
      const auth = { authorization: `Bearer ${token}` };
      const res = await graphql({ ...auth, 'x-correlation-id': 'opaque-active' });
      assert.deepEqual(res.json, { data: { me: { id: 'u1' } } });
      const seen = graph.received.at(-1)!.headers;
      assertIdentityAtBackend(readHeaders(seen), seen, expected('user-opaque-1'), 'subgraph');
      assert.equal((await rest('/api/users/2', auth)).status, 200);
      assertIdentityAtBackend(
        readHeaders(users.last()),
        users.last(),
        expected('user-opaque-1'),
        'route',
      );
      assert.equal((await rest('/v1/orders:batchGet?ids=2', auth)).status, 200);
      assertIdentityAtBackend(
        readMetadata(orderCalls.at(-1)!),
        orderCalls.at(-1)!,
        expected('user-opaque-1'),
        'transcoded',
      );
      assert.equal((await usersGrpc.call('GetUser', { id: '2' }, auth)).reply?.id, '2');
      assertIdentityAtBackend(
        readHeaders(users.last()),
        users.last(),
        expected('user-opaque-1'),
        'gRPC port',
      );
      // Asked once: the active answer is cached for the other surfaces.
      assert.deepEqual(
        introspection.tokens.filter((t) => t === token),
        [token],
      );
      const line = await logLine('opaque-active');
      assert.equal(line.auth, 'opaque');
      assert.equal(line.subject, 'user-opaque-1');
    });

    test('an inactive token is 401 invalid_token on every surface, and no backend is called', async () => {
      const token = opaque('inactive');
      const auth = { authorization: `Bearer ${token}` };
      const before = backendCalls();
      assertUnauthenticated(
        await graphql({ ...auth, 'x-correlation-id': 'opaque-inactive' }),
        'graphql',
        'invalid_token',
      );
      assertUnauthenticated(await rest('/api/users/2', auth), 'rest', 'invalid_token');
      assertUnauthenticated(await rest('/v1/users/1/orders', auth), 'rest', 'invalid_token');
      const { error } = await usersGrpc.call('GetUser', { id: '2' }, auth);
      assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
      assert.equal(backendCalls(), before);
      const line = await logLine('opaque-inactive');
      assert.equal(line.authFailure, 'inactive');
      assert.ok(!JSON.stringify(line).includes(token), 'the token is never logged');
    });

    test('with introspection down, a token is 503 AUTH_UNAVAILABLE (never 401 or 500), and served again once it is back', async () => {
      const token = activeToken('user-opaque-2');
      const auth = { authorization: `Bearer ${token}` };
      introspection.setMode('down');
      const before = backendCalls();
      try {
        const res = await graphql({ ...auth, 'x-correlation-id': 'opaque-down' });
        assert.equal(res.status, 503, res.text);
        assert.equal(res.json.errors[0].extensions.code, 'AUTH_UNAVAILABLE');
        assert.equal(res.headers['www-authenticate'], undefined);
        const route = await rest('/api/users/2', auth);
        assert.equal(route.status, 503, route.text);
        assert.equal(route.json.details[0].reason, 'AUTH_UNAVAILABLE');
        const { error } = await usersGrpc.call('GetUser', { id: '2' }, auth);
        assert.equal(error?.code, grpc.status.UNAVAILABLE);
        assert.equal(backendCalls(), before);
        const line = await logLine('opaque-down');
        assert.equal(line.status, 503);
        assert.ok(!JSON.stringify(line).includes(token), 'the token is never logged');
      } finally {
        introspection.setMode('ok');
      }
      // Nothing was cached from the failures: the same token is served now, without a restart.
      const res = await graphql(auth);
      assert.deepEqual(res.json, { data: { me: { id: 'u1' } } });
      const seen = graph.received.at(-1)!.headers;
      assertIdentityAtBackend(readHeaders(seen), seen, expected('user-opaque-2'), 'subgraph');
    });

    test('the 401 of an inactive token is the 401 of a missing credential but for the error attribute', async () => {
      const missing = await graphql();
      const inactive = await graphql({ authorization: `Bearer ${opaque('inactive')}` });
      assert.equal(
        assertUnauthenticated(missing, 'graphql', undefined),
        assertUnauthenticated(inactive, 'graphql', 'invalid_token'),
      );
      assert.ok(String(missing.headers['www-authenticate']).startsWith(bearerChallenge(undefined)));
    });
  });

  // Last: it reloads the config with every surface `none`.
  test('a surface that says none does not read credentials at all, after a reload says so', async () => {
    const reloaded = once(gateway.running.app.manager, 'reload');
    await project.write('supergraph.yaml', config('none'));
    assert.equal(((await reloaded) as [ReloadOutcome])[0].ok, true);
    const asked = introspection.requests;
    const bad = { authorization: 'Bearer never-introspected', 'x-correlation-id': 'surface-none' };
    assert.deepEqual((await graphql(bad)).json, { data: { me: { id: 'u1' } } });
    const seen = graph.received.at(-1)!.headers;
    assertIdentityAtBackend(readHeaders(seen), seen, undefined, 'subgraph');
    assert.equal((await rest('/api/users/1', bad)).status, 200);
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), undefined, 'route');
    assert.equal((await rest('/v1/orders:batchGet?ids=1', bad)).status, 200);
    assertIdentityAtBackend(
      readMetadata(orderCalls.at(-1)!),
      orderCalls.at(-1)!,
      undefined,
      'transcoded',
    );
    assert.equal((await usersGrpc.call('GetUser', { id: '1' }, bad)).reply?.id, '1');
    assertIdentityAtBackend(readHeaders(users.last()), users.last(), undefined, 'gRPC port');
    assert.equal(introspection.requests, asked);
    const line = await logLine('surface-none');
    assert.equal(line.auth, undefined);
    assert.equal(line.authFailure, undefined);
    // An endpoint that says more than its surface still does: optional reads a credential.
    assertUnauthenticated(
      await rest('/open/users/1', { authorization: 'Bearer inactive-one' }),
      'rest',
      'invalid_token',
    );
  });
});
