// Cache hints on adapter subgraphs (docs/caching.md, "Hints"): `@cacheControl` in a REST
// adapter's SDL, a REST backend's Cache-Control narrowing it, and config hints on a gRPC
// service's generated types. Real REST and gRPC servers on 127.0.0.1:0 count their calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { ORDERS_PROTO, PROTOS_DIR, startOrdersGrpc } from '../../demo/backends/orders-grpc.ts';
import { post, startHttpBackend, startTestGateway, writeProject } from '../helpers/env.ts';

/** The orders overlay: hints on the generated types, in the SDL as any subgraph's. */
const ORDERS_OVERLAY = `enum CacheControlScope { PUBLIC PRIVATE }
directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
extend type Order @cacheControl(maxAge: 30)
extend type OrderItem @cacheControl(maxAge: 30)
`;

const ACCOUNTS_SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
enum CacheControlScope { PUBLIC PRIVATE }
directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION

type Account @cacheControl(maxAge: 60) { id: ID! name: String }

type Query {
  account(id: ID!): Account @rest(get: "/accounts/{args.id}")
  session: Account @rest(get: "/session") @cacheControl(maxAge: 60)
}
`;

describe('cache hints on REST and gRPC adapter subgraphs', () => {
  const restCalls: string[] = [];
  const grpcCalls: string[] = [];
  let rest: Awaited<ReturnType<typeof startHttpBackend>>;
  let orders: Awaited<ReturnType<typeof startOrdersGrpc>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    rest = await startHttpBackend((req, res) => {
      restCalls.push(req.url ?? '');
      // An account may be kept 10 s; a session is the caller's own.
      const cacheControl = req.url === '/session' ? 'private, max-age=60' : 'max-age=10';
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': cacheControl })
        .end(JSON.stringify({ id: '7', name: 'Ada' }));
    });
    orders = await startOrdersGrpc({ onCall: (_metadata, method) => grpcCalls.push(method) });
    project = await writeProject([]);
    await project.write('accounts.graphql', ACCOUNTS_SDL);
    await project.write('orders.graphql', ORDERS_OVERLAY);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          accounts: {
            schema: { file: './accounts.graphql' },
            source: { kind: 'rest', base_url: rest.url },
          },
          orders: {
            schema: { file: './orders.graphql' },
            source: {
              kind: 'grpc',
              address: orders.url,
              protos: [ORDERS_PROTO],
              include_dirs: [PROTOS_DIR],
            },
          },
        },
        cache: {
          enabled: true,
          // A generated root field cannot be extended in the overlay: its hint is the config's.
          hints: { fields: { 'Query.getOrder': { max_age: 30 } } },
        },
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });
  after(async () => {
    await gateway?.close();
    await orders?.close();
    await rest?.close();
    await project?.remove();
  });

  test('a REST backend’s Cache-Control narrows the SDL’s hint, and the answer is cached for that long', async () => {
    const body = { query: '{ account(id: "7") { id name } }' };
    const first = await post(gateway.url, body);
    assert.deepEqual(first.json, { data: { account: { id: '7', name: 'Ada' } } });
    assert.equal(first.headers['cache-control'], 'max-age=10, public');
    const second = await post(gateway.url, body);
    assert.equal(second.headers.age, '0');
    assert.deepEqual(restCalls.filter((url) => url === '/accounts/7').length, 1);
  });

  test('a REST backend answering private keeps the answer from the shared cache', async () => {
    const body = { query: '{ session { id name } }' };
    const first = await post(gateway.url, body);
    assert.equal(first.headers['cache-control'], 'max-age=60, private');
    const second = await post(gateway.url, body);
    assert.equal(second.headers.age, undefined);
    assert.equal(restCalls.filter((url) => url === '/session').length, 2);
  });

  test('hints in a gRPC overlay and the config make a gRPC method’s answer cacheable', async () => {
    const body = { query: '{ getOrder(id: "1") { id status items { quantity } } }' };
    const first = await post(gateway.url, body);
    assert.equal(first.json.data?.getOrder?.id, '1', JSON.stringify(first.json));
    assert.equal(first.headers['cache-control'], 'max-age=30, public');
    assert.equal((await post(gateway.url, body)).headers.age, '0');
    assert.equal(grpcCalls.filter((method) => method === 'GetOrder').length, 1);
  });
});
