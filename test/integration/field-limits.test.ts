import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LIBRARY_SDL } from '../fixtures/rest/library.ts';
import { startAdapterGateway } from '../helpers/adapter-gateway.ts';
import { post } from '../helpers/env.ts';

/** The library's SDL with `@rateLimit` on two fields. */
const LIMITED_SDL = LIBRARY_SDL.replace(
  'author(id: ID!): Author @rest(get: "/authors/{args.id}")',
  'author(id: ID!): Author @rest(get: "/authors/{args.id}") @rateLimit(window: "1m", max: 2)',
).replace(
  'search(q: String!, tags: [String!], limit: Int = 10): [Book!]!',
  'search(q: String!, tags: [String!], limit: Int = 10): [Book!]! @rateLimit(window: "1m", max: 1, identityArgs: ["q"])',
);

/** Only the generated GetOrder, limited per order id, through an annotation. */
const ORDERS_OVERLAY = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
extend type Query { getOrder: Order @rateLimit(window: "1m", max: 1, identityArgs: ["id"]) }
`;

/**
 * `@rateLimit` on adapter fields through the whole gateway, against a real REST service and a
 * real gRPC service. Each test calls from its own address (X-Forwarded-For from a trusted
 * proxy): budgets are per caller, so tests never share one.
 */
describe('field limits on adapter fields', () => {
  let env: Awaited<ReturnType<typeof startAdapterGateway>>;

  before(async () => {
    env = await startAdapterGateway({
      librarySdl: LIMITED_SDL,
      ordersOverlay: ORDERS_OVERLAY,
      config: { server: { trusted_proxies: ['127.0.0.1'] } },
    });
  });

  after(() => env.close());

  /** A query from `address`, and the REST calls it made. */
  async function run(query: string, address: string) {
    const before = env.library.calls.length;
    const res = await post(env.gateway.url, { query }, { 'x-forwarded-for': address });
    return { res, calls: env.library.calls.slice(before).map((c) => c.url) };
  }

  test('the third query in the window gets null and RATE_LIMITED at the field, and the rest of its data', async () => {
    const query = '{ author(id: "1") { name } books { isbn } }';
    for (let i = 0; i < 2; i++) {
      const { res } = await run(query, '203.0.113.1');
      assert.equal(res.json.data.author.name, 'Author 1');
    }
    const { res, calls } = await run(query, '203.0.113.1');
    // A field error, not a refused request: the answer is still a 200 with partial data.
    assert.equal(res.status, 200);
    assert.equal(res.json.data.author, null);
    assert.equal(res.json.data.books.length, 20);
    assert.equal(res.json.errors.length, 1);
    const [error] = res.json.errors;
    assert.deepEqual(error.path, ['author']);
    assert.equal(error.message, 'Too many requests for Query.author: at most 2 per 1m.');
    assert.equal(error.extensions.code, 'RATE_LIMITED');
    assert.equal(error.extensions.subgraph, 'library');
    assert.deepEqual(
      [error.extensions.field, error.extensions.window, error.extensions.max],
      ['Query.author', '1m', 2],
    );
    // The first call leaves the window a minute after it was made: a few ms ago.
    assert.ok(error.extensions.retryAfter > 55 && error.extensions.retryAfter <= 60);
    // No call for the refused field; the unlimited one was made.
    assert.deepEqual(calls, ['/books']);
  });

  test('each caller has its own budget', async () => {
    const query = '{ author(id: "2") { name } }';
    await run(query, '203.0.113.2');
    await run(query, '203.0.113.2');
    assert.equal((await run(query, '203.0.113.2')).res.json.data.author, null);
    const other = await run(query, '203.0.113.3');
    assert.deepEqual(other.res.json, { data: { author: { name: 'Author 2' } } });
  });

  test('identityArgs give each argument value its own budget', async () => {
    const search = (q: string) => run(`{ search(q: "${q}") { isbn } }`, '203.0.113.4');
    assert.equal((await search('war')).res.json.data.search.length, 2);
    assert.equal((await search('peace')).res.json.data.search.length, 2);
    const again = await search('war');
    // search is non-null: its null reaches the root.
    assert.equal(again.res.json.data, null);
    assert.equal(again.res.json.errors[0].extensions.code, 'RATE_LIMITED');
    assert.deepEqual(again.calls, []);
  });

  test('a gRPC field annotated with @rateLimit is refused before its method is called', async () => {
    const query = '{ getOrder(id: "1") { id status } }';
    env.grpcCalls.length = 0;
    const first = await run(query, '203.0.113.5');
    assert.deepEqual(first.res.json, { data: { getOrder: { id: '1', status: 'DELIVERED' } } });
    const second = await run(query, '203.0.113.5');
    assert.deepEqual(second.res.json.data, { getOrder: null });
    assert.equal(second.res.json.errors[0].extensions.code, 'RATE_LIMITED');
    assert.equal(second.res.json.errors[0].extensions.subgraph, 'orders');
    assert.deepEqual(second.res.json.errors[0].path, ['getOrder']);
    // Another order id is another budget.
    const other = await run('{ getOrder(id: "2") { id } }', '203.0.113.5');
    assert.deepEqual(other.res.json, { data: { getOrder: { id: '2' } } });
    assert.deepEqual(
      env.grpcCalls.map((c) => `${c.method} ${c.request.id}`),
      ['GetOrder 1', 'GetOrder 2'],
    );
  });
});
