import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import {
  post,
  startHttpBackend,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';

/**
 * A native subgraph owns Product and Seller; a REST subgraph adds reviews and shipping to
 * Product without any endpoint that fetches a product, and its orders reference both.
 */
const PRODUCTS = {
  name: 'products',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Product @key(fields: "id") { id: ID! name: String! weight: Int! }
type Seller @key(fields: "id") { id: ID! name: String! }
type Query { topProducts: [Product!]! }`,
  resolvers: {
    Query: {
      // Product 1 twice: its reviews call is made once.
      topProducts: () => ['1', '2', '1'].map((id) => ({ id })),
    },
    Product: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      name: (p: { id: string }) => `Product ${p.id}`,
      weight: (p: { id: string }) => Number(p.id) * 10,
    },
    Seller: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: `Seller ${ref.id}` }),
    },
  },
};

const REVIEWS_SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires"])

type Product @key(fields: "id") {
  id: ID!
  weight: Int! @external
  reviews: [Review!]! @rest(get: "/reviews", query: { productId: "{parent.id}" })
  shipping: Int @requires(fields: "weight") @rest(get: "/shipping", query: { weight: "{parent.weight}" }, select: "cost")
}

type Seller @key(fields: "id", resolvable: false) { id: ID! }

type Review {
  id: ID!
  text: String! @restField(from: "body")
  authorName: String @restField(from: "author.name")
  city: String @restField(from: "author.address.city")
}

type Order {
  id: ID!
  product: Product @restReference(key: { id: "{parent.product_id}" })
  seller: Seller @restReference(key: { id: "{parent.seller.id}" })
  extras: [Product!]! @restReference(key: { id: "{parent.extra_ids}" })
}

type Echo { contentType: String body: String }

input Contact { name: String! tags: [String!] note: String }

type Query {
  order(id: ID!): Order @rest(get: "/orders/{args.id}")
  ping(n: Int): String @rest(get: "/ping", query: { n: "{args.n}" }, select: "pong")
  failing(status: Int!): String @rest(get: "/fail/{args.status}")
}

type Mutation {
  contact(input: Contact!): Echo @rest(post: "/echo", body: "{args.input}", bodyType: FORM)
  note(name: String!, tags: [String!]): Echo
    @rest(post: "/echo", body: { name: "{args.name}", tag: "{args.tags}", fixed: "yes" }, bodyType: FORM)
}
`;

interface Call {
  method: string;
  url: string;
}

describe('a REST subgraph in a federated graph', () => {
  const calls: Call[] = [];
  let backend: Awaited<ReturnType<typeof startHttpBackend>>;
  let products: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  let development: TestGateway;

  before(async () => {
    backend = await startHttpBackend(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const url = new URL(req.url ?? '/', 'http://reviews.test');
      calls.push({ method: req.method ?? '', url: `${url.pathname}${url.search}` });
      const json = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      const [first, second] = url.pathname.split('/').filter(Boolean);
      switch (first) {
        case 'reviews': {
          const id = url.searchParams.get('productId');
          return json(200, [
            {
              id: `r${id}`,
              body: `Good ${id}`,
              author: { name: `Ann ${id}`, address: { city: 'Lyon' } },
            },
          ]);
        }
        case 'shipping':
          return json(200, { cost: Number(url.searchParams.get('weight')) + 1 });
        case 'orders':
          return second === '7'
            ? json(200, { id: '7', product_id: null, seller: null, extra_ids: [] })
            : json(200, {
                id: second,
                product_id: '2',
                seller: { id: 's9' },
                extra_ids: ['1', '2'],
              });
        case 'ping':
          return json(200, { pong: `pong ${url.searchParams.get('n') ?? ''}`.trim() });
        case 'echo':
          return json(200, { contentType: req.headers['content-type'], body });
        case 'fail':
          return json(Number(second), {
            error: { detail: `the service says ${second}`, trace: 'secret backend detail' },
          });
        default:
          return json(404, {});
      }
    });
    products = await startSubgraphs([PRODUCTS]);
    project = await writeProject([
      ...products.servers,
      { name: 'reviews', url: 'http://unused.invalid', sdl: REVIEWS_SDL },
    ]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          products: {
            routing_url: products.servers[0]!.url,
            schema: { file: './products.graphql' },
          },
          reviews: {
            schema: { file: './reviews.graphql' },
            // Off, so that what shares identical calls here is the operation's own sharing,
            // not the in-flight deduplication of the outbound chain.
            dedup: false,
            source: {
              kind: 'rest',
              base_url: backend.url,
              max_calls_per_operation: 5,
              errors: { message: 'error.detail' },
            },
          },
        },
        // 500 aliases of one field: the operation limits would refuse them first.
        limits: { operation: { max_aliases: 1000, max_height: 1000, max_root_fields: 1000 } },
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
    development = await startTestGateway({
      configFile: project.configFile,
      server: { mode: 'development' },
    });
  });

  after(async () => {
    await gateway.close();
    await development.close();
    await products.close();
    await backend.close();
    await project.remove();
  });

  /** Runs a query and returns the backend calls it made. */
  async function run(query: string, headers: Record<string, string> = {}, on = gateway) {
    const start = calls.length;
    const res = await post(on.url, { query }, headers);
    return { res, made: calls.slice(start).map((c) => `${c.method} ${c.url}`) };
  }

  test('an entity without @restEntity is resolved from its key: its fields call with {parent.id}, once per distinct id', async () => {
    const { res, made } = await run('{ topProducts { id name reviews { id text } } }');
    assert.deepEqual(res.json, {
      data: {
        topProducts: [
          { id: '1', name: 'Product 1', reviews: [{ id: 'r1', text: 'Good 1' }] },
          { id: '2', name: 'Product 2', reviews: [{ id: 'r2', text: 'Good 2' }] },
          { id: '1', name: 'Product 1', reviews: [{ id: 'r1', text: 'Good 1' }] },
        ],
      },
    });
    // Three references, two distinct ids: the identical call for product 1 is made once.
    assert.deepEqual(made.sort(), ['GET /reviews?productId=1', 'GET /reviews?productId=2']);
  });

  test('a @requires field travels in the representation and fills {parent.weight}', async () => {
    const { res, made } = await run('{ topProducts { id shipping } }');
    assert.deepEqual(res.json.data.topProducts, [
      { id: '1', shipping: 11 },
      { id: '2', shipping: 21 },
      { id: '1', shipping: 11 },
    ]);
    assert.deepEqual(made.sort(), ['GET /shipping?weight=10', 'GET /shipping?weight=20']);
  });

  test('@restField reads nested paths under another name', async () => {
    const { res } = await run('{ topProducts { reviews { authorName city } } }');
    assert.deepEqual(res.json.data.topProducts[0].reviews, [{ authorName: 'Ann 1', city: 'Lyon' }]);
  });

  test('@restReference turns JSON properties into references the owning subgraph resolves', async () => {
    const { res, made } = await run(
      '{ order(id: "3") { id product { id name reviews { id } } seller { id name } extras { name } } }',
    );
    assert.deepEqual(res.json, {
      data: {
        order: {
          id: '3',
          product: { id: '2', name: 'Product 2', reviews: [{ id: 'r2' }] },
          seller: { id: 's9', name: 'Seller s9' },
          extras: [{ name: 'Product 1' }, { name: 'Product 2' }],
        },
      },
    });
    // The order, then the product's reviews: no call fetches a product or a seller.
    assert.deepEqual(made, ['GET /orders/3', 'GET /reviews?productId=2']);
    assert.equal(products.servers[0]!.received.at(-1)?.query.includes('_entities'), true);
  });

  test('a reference whose key is null or absent is a null field', async () => {
    const { res } = await run('{ order(id: "7") { product { id } seller { id } extras { id } } }');
    assert.deepEqual(res.json, { data: { order: { product: null, seller: null, extras: [] } } });
  });

  test('a FORM body from an input object reaches the service URL-encoded, lists as repeated names', async () => {
    const { res, made } = await run(
      'mutation { contact(input: { name: "Ann & Bob", tags: ["a", "b c"] }) { contentType body } }',
    );
    assert.deepEqual(made, ['POST /echo']);
    assert.deepEqual(res.json.data.contact, {
      contentType: 'application/x-www-form-urlencoded',
      body: 'name=Ann+%26+Bob&tags=a&tags=b+c',
    });
  });

  test('a FORM body from an object template, absent values left out', async () => {
    const { res } = await run('mutation { note(name: "x=y") { contentType body } }');
    assert.deepEqual(res.json.data.note, {
      contentType: 'application/x-www-form-urlencoded',
      body: 'name=x%3Dy&fixed=yes',
    });
  });

  test('source.errors.message: a 4xx carries the service’s own message, in production too', async () => {
    const { res } = await run('{ failing(status: 404) }');
    assert.deepEqual(res.json.data, { failing: null });
    assert.equal(res.json.errors[0].message, 'the service says 404');
    assert.equal(res.json.errors[0].extensions.code, 'NOT_FOUND');
    assert.equal(res.json.errors[0].extensions.subgraph, 'reviews');
  });

  test('a 5xx message stays masked in production; the log line and development have it, with the path template', async () => {
    const { res } = await run('{ failing(status: 500) }', { 'x-correlation-id': 'fed-500' });
    assert.equal(res.json.errors[0].message, 'Subgraph "reviews" answered 500.');
    assert.equal(res.json.errors[0].extensions.code, 'UPSTREAM_ERROR');
    assert.doesNotMatch(res.text, /fail\/|the service says|secret backend detail/);
    const line = await gateway.logs.find((l) => l.correlationId === 'fed-500');
    assert.equal(
      line.msg,
      'Subgraph "reviews" answered HTTP 500 to GET /fail/{args.status}: the service says 500.',
    );
    const dev = await run('{ failing(status: 500) }', {}, development);
    assert.equal(
      dev.res.json.errors[0].message,
      'Subgraph "reviews" answered HTTP 500 to GET /fail/{args.status}: the service says 500.',
    );
  });

  test('500 aliases of one field make one backend call', async () => {
    const aliases = Array.from({ length: 500 }, (_, i) => `a${i}: ping(n: 1)`).join(' ');
    const { res, made } = await run(`{ ${aliases} }`);
    assert.equal(res.json.errors, undefined);
    assert.equal(Object.keys(res.json.data).length, 500);
    assert.equal(res.json.data.a499, 'pong 1');
    assert.deepEqual(made, ['GET /ping?n=1']);
  });

  test('distinct calls past max_calls_per_operation fail their fields with REQUEST_LIMIT_EXCEEDED; the rest is answered', async () => {
    // max_calls_per_operation is 5: n=1..5 are called (n=1 twice, once), n=6..8 are not.
    const { res, made } = await run(
      '{ p1: ping(n: 1) p2: ping(n: 2) p1again: ping(n: 1) p3: ping(n: 3) p4: ping(n: 4) p5: ping(n: 5) p6: ping(n: 6) p7: ping(n: 7) p8: ping(n: 8) }',
    );
    assert.deepEqual(res.json.data, {
      p1: 'pong 1',
      p2: 'pong 2',
      p1again: 'pong 1',
      p3: 'pong 3',
      p4: 'pong 4',
      p5: 'pong 5',
      p6: null,
      p7: null,
      p8: null,
    });
    assert.equal(made.length, 5);
    assert.deepEqual(
      res.json.errors.map((e: { path: string[] }) => e.path[0]),
      ['p6', 'p7', 'p8'],
    );
    for (const error of res.json.errors) {
      assert.equal(error.extensions.code, 'REQUEST_LIMIT_EXCEEDED');
      assert.equal(error.extensions.subgraph, 'reviews');
      assert.match(error.message, /more than 5 calls/);
    }
  });
});
