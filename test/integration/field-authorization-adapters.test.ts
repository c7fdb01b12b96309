import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LIBRARY_SDL } from '../fixtures/rest/library.ts';
import { startAdapterGateway } from '../helpers/adapter-gateway.ts';
import { post, type TestGateway } from '../helpers/env.ts';
import { asCaller, withTestIdentity } from '../helpers/identity.ts';

/**
 * Field authorization on fields served by the adapters: a field with its own REST call, a
 * mutation that POSTs, a gRPC method generated from protos (annotated in the overlay) and a
 * field the overlay maps to a method. A denied field's call is never made, asserted at the
 * backend itself.
 */
const LIBRARY = LIBRARY_SDL.replace(
  'federation/v2.3", import: ["@key"]',
  'federation/v2.5", import: ["@key", "@authenticated", "@requiresScopes"]',
)
  .replace(
    'books: [Book!]! @rest(get: "/authors/{parent.id}/books")',
    'books: [Book!] @rest(get: "/authors/{parent.id}/books") @requiresScopes(scopes: [["books:read"]])',
  )
  .replace(
    'addBook(input: NewBook!): Book! @rest(post: "/books", body: "{args.input}")',
    'addBook(input: NewBook!): Book @rest(post: "/books", body: "{args.input}") @authenticated',
  );

const ORDERS_OVERLAY = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@authenticated", "@requiresScopes"])
extend type Mutation { createOrder: Order @authenticated }
extend type Order { user: User! @grpcReference(key: { id: "{parent.userId}" }) }
type User @key(fields: "id") {
  id: ID!
  orders: [Order!] @grpc(method: "ListOrdersByUser", request: { userId: "{parent.id}" }, select: "orders") @requiresScopes(scopes: [["orders:read"]])
}`;

describe('field authorization on REST and gRPC adapter fields', () => {
  let env: Awaited<ReturnType<typeof startAdapterGateway>>;
  let gateway: TestGateway;
  let library: Awaited<ReturnType<typeof startAdapterGateway>>['library'];
  const grpcMethods = () => env.grpcCalls.map((c) => c.method);

  before(async () => {
    env = await startAdapterGateway({
      librarySdl: LIBRARY,
      ordersOverlay: ORDERS_OVERLAY,
      stages: withTestIdentity(),
    });
    ({ gateway, library } = env);
  });

  after(() => env.close());

  const urlsDuring = async (send: () => Promise<unknown>) => {
    const from = library.calls.length;
    await send();
    return library.calls.slice(from).map((c) => `${c.method} ${c.url}`);
  };

  test('a REST field denied is null with its error, and its call is never made', async () => {
    let res: any;
    const calls = await urlsDuring(async () => {
      res = await post(gateway.url, { query: '{ author(id: "2") { name books { title } } }' });
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.data, { author: { name: 'Author 2', books: null } });
    assert.deepEqual(
      res.json.errors.map((e: any) => [e.path, e.extensions.code]),
      [[['author', 'books'], 'UNAUTHENTICATED']],
    );
    assert.deepEqual(calls, ['GET /authors/2']);
  });

  test('the same REST field is called for a caller with the scope', async () => {
    let res: any;
    const calls = await urlsDuring(async () => {
      res = await post(
        gateway.url,
        { query: '{ author(id: "2") { books { title } } }' },
        asCaller({ scopes: ['books:read'] }),
      );
    });
    assert.equal(res.json.errors, undefined);
    assert.equal(res.json.data.author.books.length, 4);
    assert.deepEqual(calls, ['GET /authors/2', 'GET /authors/2/books']);
  });

  test('a REST mutation denied sends no request to the backend', async () => {
    let res: any;
    const query = 'mutation { addBook(input: { title: "Secret", authorId: "1" }) { isbn } }';
    const calls = await urlsDuring(async () => {
      res = await post(gateway.url, { query });
    });
    assert.deepEqual(res.json.data, { addBook: null });
    assert.equal(res.json.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.deepEqual(calls, []);
  });

  test('a generated gRPC method the overlay makes @authenticated is not called anonymously', async () => {
    env.grpcCalls.length = 0;
    const query =
      'mutation { createOrder(userId: "1", items: [{ productId: "p1", quantity: 1 }]) { id status } }';
    const denied = await post(gateway.url, { query });
    assert.deepEqual(denied.json.data, { createOrder: null });
    assert.deepEqual(denied.json.errors[0].path, ['createOrder']);
    assert.equal(denied.json.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.deepEqual(grpcMethods(), []);
    const created = await post(gateway.url, { query }, asCaller({ subject: '1' }));
    assert.equal(created.json.errors, undefined);
    assert.equal(created.json.data.createOrder.status, 'PENDING');
    assert.deepEqual(grpcMethods(), ['CreateOrder']);
  });

  test('an overlay field mapped to a gRPC method is not called without its scope', async () => {
    env.grpcCalls.length = 0;
    const query = '{ getOrder(id: "3") { id user { id orders { id } } } }';
    const denied = await post(gateway.url, { query }, asCaller());
    assert.deepEqual(denied.json.data, { getOrder: { id: '3', user: { id: '2', orders: null } } });
    assert.equal(denied.json.errors[0].extensions.code, 'FORBIDDEN');
    assert.deepEqual(grpcMethods(), ['GetOrder']);
    env.grpcCalls.length = 0;
    const allowed = await post(gateway.url, { query }, asCaller({ scopes: ['orders:read'] }));
    assert.deepEqual(allowed.json.data.getOrder.user.orders, [{ id: '8' }, { id: '3' }]);
    assert.deepEqual(grpcMethods(), ['GetOrder', 'ListOrdersByUser']);
  });
});
