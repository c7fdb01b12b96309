import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, validate } from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { composeSupergraph } from '../../../../src/composition/compose.ts';
import { entitiesIn } from '../../../../src/policies/cache/entities.ts';
import { entityKeysOf } from '../../../../src/policies/cache/tags.ts';

const FEDERATION =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])';
const { supergraphSdl } = composeSupergraph([
  {
    name: 'products',
    url: 'http://products',
    sourceName: 'products.graphql',
    sdl: `${FEDERATION}
type Query {
  product(id: ID!): Product
  topProducts: [Product]
  shelves: [[Product!]]
  media: [Media]
  search: [Result]
}
type Product @key(fields: "id") @key(fields: "sku org { id }") {
  id: ID!
  sku: String!
  org: Org!
  name: String
}
type Org @key(fields: "id") { id: ID! name: String }
interface Media { id: ID! title: String }
type Film implements Media @key(fields: "id") { id: ID! title: String }
type Track implements Media { id: ID! title: String isrc: ID! }
union Result = Product | Track
`,
  },
  {
    name: 'reviews',
    url: 'http://reviews',
    sourceName: 'reviews.graphql',
    sdl: `${FEDERATION}
type Query { reviews: [Review] }
type Review @key(fields: "id") { id: ID! body: String product: Product }
type Product @key(fields: "id", resolvable: false) { id: ID! }
`,
  },
]);
const schema = Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema();
const keys = entityKeysOf(supergraphSdl);

function found(query: string, data: unknown, operationName?: string) {
  const document = parse(query);
  assert.deepEqual(validate(schema, document), [], 'the operation is valid');
  const { keys: keyTags, keyless } = entitiesIn(schema, keys, document, operationName, data);
  return { keys: [...keyTags].sort(), keyless: [...keyless].sort() };
}

test('entitiesIn tags each entity by its key, once', () => {
  const data = { topProducts: [{ id: 1, name: 'a' }, { id: '2' }, { id: '1', name: 'a' }] };
  assert.deepEqual(found('{ topProducts { id name } }', data), {
    keys: ['key:Product:{"id":"1"}', 'key:Product:{"id":"2"}'],
    keyless: [],
  });
});

test('entitiesIn finds nested entities and nested keys', () => {
  const query = '{ reviews { id product { sku org { id name } } } }';
  const data = { reviews: [{ id: 'r', product: { sku: 's', org: { id: 'o', name: 'n' } } }] };
  assert.deepEqual(found(query, data), {
    keys: [
      'key:Org:{"id":"o"}',
      'key:Product:{"org":{"id":"o"},"sku":"s"}',
      'key:Review:{"id":"r"}',
    ],
    keyless: [],
  });
});

test('entitiesIn marks an entity without a complete key keyless', () => {
  assert.deepEqual(found('{ topProducts { name } }', { topProducts: [{ name: 'a' }] }), {
    keys: [],
    keyless: ['keyless:Product'],
  });
});

test('entitiesIn reads data under aliases, but not key fields under aliases', () => {
  // `pid: id` is not the key field `id`; the alias `org` is org itself, so the second key holds.
  const query = '{ items: topProducts { pid: id sku org { id } } }';
  const data = { items: [{ pid: 1, sku: 's', org: { id: 'o' } }] };
  assert.deepEqual(found(query, data), {
    keys: ['key:Org:{"id":"o"}', 'key:Product:{"org":{"id":"o"},"sku":"s"}'],
    keyless: [],
  });
});

test('entitiesIn does not take another field aliased as a key field for the key', () => {
  const data = { topProducts: [{ id: 's' }] };
  assert.deepEqual(found('{ topProducts { id: sku } }', data), {
    keys: [],
    keyless: ['keyless:Product'],
  });
});

test('entitiesIn walks lists of lists and skips nulls', () => {
  const data = { shelves: [[{ id: 1 }, { id: 2 }], null, [{ id: 3 }], []] };
  assert.deepEqual(found('{ shelves { id } }', data).keys, [
    'key:Product:{"id":"1"}',
    'key:Product:{"id":"2"}',
    'key:Product:{"id":"3"}',
  ]);
  assert.deepEqual(found('{ product(id: 1) { id } }', { product: null }), {
    keys: [],
    keyless: [],
  });
});

test('entitiesIn reads the type of an abstract value from __typename', () => {
  const query = '{ media { __typename id } }';
  const data = {
    media: [
      { __typename: 'Film', id: 'f' },
      { __typename: 'Track', id: 't' },
    ],
  };
  assert.deepEqual(found(query, data), { keys: ['key:Film:{"id":"f"}'], keyless: [] });
  const aliased = '{ media { kind: __typename id } }';
  assert.deepEqual(found(aliased, { media: [{ kind: 'Film', id: 'f' }] }).keys, [
    'key:Film:{"id":"f"}',
  ]);
});

test('entitiesIn applies only the fragments of the type __typename names', () => {
  const query =
    '{ search { __typename ... on Product { id } ...T } } fragment T on Track { id: isrc }';
  const data = {
    search: [
      { __typename: 'Product', id: 'p' },
      { __typename: 'Track', id: 'isrc' },
    ],
  };
  assert.deepEqual(found(query, data), { keys: ['key:Product:{"id":"p"}'], keyless: [] });
});

test('entitiesIn counts every possible entity type keyless without __typename', () => {
  assert.deepEqual(found('{ media { id } }', { media: [{ id: 'f' }] }), {
    keys: [],
    keyless: ['keyless:Film'],
  });
  assert.deepEqual(found('{ search { ... on Product { id } } }', { search: [{ id: 'p' }] }), {
    keys: [],
    keyless: ['keyless:Product'],
  });
});

test('entitiesIn walks named fragments and picks the named operation', () => {
  const query = `
    query A { reviews { ...R } }
    query B { topProducts { id } }
    fragment R on Review { id product { id } }
  `;
  const data = { reviews: [{ id: 'r', product: { id: 'p' } }] };
  assert.deepEqual(found(query, data, 'A').keys, [
    'key:Product:{"id":"p"}',
    'key:Review:{"id":"r"}',
  ]);
});

test('entitiesIn finds nothing in data that is not an object', () => {
  assert.deepEqual(found('{ topProducts { id } }', null), { keys: [], keyless: [] });
});
