import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getIntrospectionQuery } from 'graphql';
import type { ServerConfig } from '../../src/config/schema.ts';
import { post, startSubgraphs, startTestGateway, writeProject } from '../helpers/env.ts';
import type { SubgraphServerOptions } from '../helpers/subgraph-server.ts';

/** A graph that nests as deep as a client asks: `node { child { child { ... } } }`. */
const tree: Omit<SubgraphServerOptions, 'port'> = {
  name: 'tree',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Node { id: ID! name: String! child: Node }
type Query { node: Node other: Node }`,
  resolvers: {
    Query: { node: () => ({ id: '1' }), other: () => ({ id: '2' }) },
    Node: {
      name: ({ id }: { id: string }) => `n${id}`,
      child: ({ id }: { id: string }) => ({ id: `${id}.1` }),
    },
  },
};

const RESPONSE = { accept: 'application/graphql-response+json' };
const LEGACY = { accept: 'application/json' };

/** Subgraph, project with `extra` config, gateway: closed together. */
async function start(extra: Record<string, unknown>, server: Partial<ServerConfig> = {}) {
  const subgraphs = await startSubgraphs([tree]);
  const project = await writeProject(subgraphs.servers, extra);
  const gateway = await startTestGateway({ configFile: project.configFile, server });
  return {
    gateway,
    backend: subgraphs.byName('tree'),
    async close() {
      await gateway.close();
      await subgraphs.close();
      await project.remove();
    },
  };
}

/** `{ node { child { ... { id } } } }` with `levels` fields on the path: depth `levels`. */
const nested = (levels: number) =>
  `{ node { ${'child { '.repeat(levels - 2)}id${' }'.repeat(levels - 2)} } }`;

/** Small limits, so "at" and "just above" are short documents. Tokens: 60. */
const SMALL = {
  limits: {
    operation: {
      max_depth: 4,
      max_height: 6,
      max_root_fields: 2,
      max_aliases: 2,
      max_directives: 2,
      max_tokens: 60,
    },
  },
};

// Each row: the limit, an operation at it (admitted), one just above (refused), the value the
// refusal reports. Counting follows Apollo Router (docs/limits.md).
const LIMIT_CASES: [limit: string, code: string, at: string, above: string, found: number][] = [
  ['max_depth', 'MAX_DEPTH_LIMIT', nested(4), nested(5), 5],
  [
    // node, id, name, child, id, name: 6 fields; a seventh refused
    'max_height',
    'MAX_HEIGHT_LIMIT',
    '{ node { id name child { id name } } }',
    '{ node { id name child { id name child { id } } } }',
    8,
  ],
  [
    'max_root_fields',
    'MAX_ROOT_FIELDS_LIMIT',
    '{ node { id } other { id } }',
    '{ node { id } other { id } n: node { id } }',
    3,
  ],
  [
    'max_aliases',
    'MAX_ALIASES_LIMIT',
    '{ node { a: id b: name } }',
    '{ node { a: id b: name c: id } }',
    3,
  ],
  [
    'max_directives',
    'MAX_DIRECTIVES_LIMIT',
    '{ node { id @include(if: true) name @skip(if: false) } }',
    '{ node { id @include(if: true) name @skip(if: false) child @include(if: true) { id } } }',
    3,
  ],
];

describe('operation limits', () => {
  let env: Awaited<ReturnType<typeof start>>;
  before(async () => {
    env = await start(SMALL);
  });
  after(() => env.close());

  for (const [limit, code, at, above, found] of LIMIT_CASES) {
    test(`an operation at ${limit} is served`, async () => {
      const response = await post(env.gateway.url, { query: at }, RESPONSE);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.json.errors, undefined);
    });

    test(`an operation just over ${limit} is refused with ${code}, 400, before any backend call`, async () => {
      const before = env.backend.received.length;
      for (const headers of [RESPONSE, LEGACY]) {
        const response = await post(env.gateway.url, { query: above }, headers);
        assert.equal(response.status, 400, response.text);
        assert.equal(response.json.data, undefined);
        const [error] = response.json.errors;
        assert.equal(error.extensions.code, code);
        assert.equal(error.extensions.limit, limit);
        assert.equal(error.extensions.found, found);
        assert.match(error.message, new RegExp(`${found}, ${limit}: \\d+`));
      }
      assert.equal(env.backend.received.length, before);
    });
  }

  test('a named fragment counts at every spread for height, and adds no depth', async () => {
    // F has 2 fields; spread twice under node (2 + 2) plus node itself: height 5, depth 2.
    const query = '{ node { ...F ... on Node { ...F } } } fragment F on Node { id name }';
    const served = await post(env.gateway.url, { query }, RESPONSE);
    assert.equal(served.status, 200, served.text);
    // A third spread, under child: 4 + child (1) + F (2) + node = 8, over 6.
    const refused = await post(
      env.gateway.url,
      {
        query:
          '{ node { ...F ... on Node { ...F } child { ...F } } } fragment F on Node { id name }',
      },
      RESPONSE,
    );
    assert.equal(refused.json.errors[0].extensions.code, 'MAX_HEIGHT_LIMIT');
    assert.equal(refused.json.errors[0].extensions.found, 8);
  });

  test('depth counts through nested named and inline fragments', async () => {
    // node > child > child > id through two fragments: depth 4, at the limit; one more level over.
    const at =
      '{ node { ...A } } fragment A on Node { child { ... on Node { ...B } } } fragment B on Node { child { id } }';
    assert.equal((await post(env.gateway.url, { query: at }, RESPONSE)).status, 200);
    const over = at.replace('child { id }', 'child { child { id } }');
    const refused = await post(env.gateway.url, { query: over }, RESPONSE);
    assert.equal(refused.json.errors[0].extensions.code, 'MAX_DEPTH_LIMIT');
    assert.equal(refused.json.errors[0].extensions.found, 5);
  });

  test('root fields and aliases in fragments spread at the root count', async () => {
    const query = '{ node { id } ...R } fragment R on Query { o: other { id } }';
    const served = await post(env.gateway.url, { query }, RESPONSE);
    // node + other (through R) = 2 root fields: at the limit; the alias is the one alias.
    assert.equal(served.status, 200, served.text);
    const over =
      '{ node { id } ...R ...S } fragment R on Query { o: other { id } } fragment S on Query { p: other { id } }';
    const answer = await post(env.gateway.url, { query: over }, RESPONSE);
    assert.equal(answer.json.errors[0].extensions.code, 'MAX_ROOT_FIELDS_LIMIT');
    assert.equal(answer.json.errors[0].extensions.found, 3);
  });

  test('a document over max_tokens is refused with MAX_TOKENS_LIMIT and 400 before it is parsed whole', async () => {
    const before = env.backend.received.length;
    const query = `{ node { ${'id '.repeat(100)} } }`;
    for (const headers of [RESPONSE, LEGACY]) {
      const response = await post(env.gateway.url, { query }, headers);
      assert.equal(response.status, 400, response.text);
      const [error] = response.json.errors;
      assert.equal(error.extensions.code, 'MAX_TOKENS_LIMIT');
      assert.equal(error.extensions.limit, 'max_tokens');
      assert.equal(error.extensions.max, 60);
      assert.match(error.message, /more than 60, max_tokens: 60/);
    }
    assert.equal(env.backend.received.length, before);
  });
});

describe('operation limits by default', () => {
  let env: Awaited<ReturnType<typeof start>>;
  before(async () => {
    env = await start({}, { mode: 'development' });
  });
  after(() => env.close());

  test('a 600-level nesting is refused with MAX_DEPTH_LIMIT, the gateway stays up, its heap bounded', async () => {
    const query = nested(600);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20; i += 1) {
      const response = await post(env.gateway.url, { query }, RESPONSE);
      assert.equal(response.status, 400, response.text);
      assert.equal(response.json.errors[0].extensions.code, 'MAX_DEPTH_LIMIT');
      assert.equal(response.json.errors[0].extensions.found, 600);
      assert.equal(response.json.errors[0].extensions.max, 100);
    }
    global.gc?.();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    // Twenty refusals of a ~4 KB document: a generous bound that a leak of each document's AST
    // (or a runaway walk) would pass long before the process fell over.
    assert.ok(grown < 64 * 1024 * 1024, `heap grew ${grown} bytes`);
    assert.equal(env.backend.received.length, 0);
    const healthy = await post(env.gateway.url, { query: nested(3) }, RESPONSE);
    assert.equal(healthy.status, 200, healthy.text);
  });

  test('a 5,000-level nesting under the token limit is refused, and the gateway stays up', async () => {
    // `child {` is two tokens and `}` one: 5,000 levels is ~15,000 tokens, at the default.
    const response = await post(env.gateway.url, { query: nested(4_900) }, RESPONSE);
    assert.equal(response.status, 400, response.text);
    const healthy = await post(env.gateway.url, { query: nested(3) }, RESPONSE);
    assert.equal(healthy.status, 200, healthy.text);
  });

  test('the standard introspection query passes the default limits in development', async () => {
    const response = await post(env.gateway.url, { query: getIntrospectionQuery() }, RESPONSE);
    assert.equal(response.status, 200, response.text);
    assert.ok(response.json.data.__schema.types.length > 0);
  });
});

describe('introspection', () => {
  let production: Awaited<ReturnType<typeof start>>;
  let allowed: Awaited<ReturnType<typeof start>>;
  before(async () => {
    production = await start({}, { mode: 'production' });
    allowed = await start({}, { mode: 'production', introspection: true });
  });
  after(async () => {
    await production.close();
    await allowed.close();
  });

  const queries = [
    ['__schema', '{ __schema { queryType { name } } }'],
    ['__type', '{ __type(name: "Node") { name } }'],
    [
      '__schema in a fragment',
      '{ ...I } fragment I on Query { ... on Query { __schema { queryType { name } } } }',
    ],
  ];
  for (const [name, query] of queries) {
    test(`${name} is refused in production with INTROSPECTION_DISABLED and 400`, async () => {
      for (const headers of [RESPONSE, LEGACY]) {
        const response = await post(production.gateway.url, { query }, headers);
        assert.equal(response.status, 400, response.text);
        assert.equal(response.json.errors[0].extensions.code, 'INTROSPECTION_DISABLED');
      }
    });
  }

  test('server.introspection: true serves introspection in production', async () => {
    const response = await post(allowed.gateway.url, { query: queries[0]?.[1] }, RESPONSE);
    assert.equal(response.status, 200, response.text);
    assert.equal(response.json.data.__schema.queryType.name, 'Query');
  });

  test('__typename alone is never refused', async () => {
    for (const query of ['{ __typename }', '{ node { __typename id } }']) {
      const response = await post(production.gateway.url, { query }, RESPONSE);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.json.errors, undefined);
    }
  });
});
