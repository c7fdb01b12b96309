import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeSupergraph } from '../../../../src/composition/compose.ts';
import {
  declaredTag,
  entityKeysOf,
  keylessTag,
  keyOf,
  keyTag,
  subgraphTag,
  typeTag,
} from '../../../../src/policies/cache/tags.ts';

const FEDERATION =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])';
const { supergraphSdl } = composeSupergraph([
  {
    name: 'products',
    url: 'http://products',
    sourceName: 'products.graphql',
    sdl: `${FEDERATION}
type Query { product(id: ID!): Product  org: Org  note: Note }
type Product @key(fields: "id") @key(fields: "sku org { id }") @key(fields: "org { id } sku") {
  id: ID!
  sku: String!
  org: Org!
  name: String
}
type Org @key(fields: "id") { id: ID! name: String }
type Note { text: String }
`,
  },
  {
    name: 'reviews',
    url: 'http://reviews',
    sourceName: 'reviews.graphql',
    sdl: `${FEDERATION}
type Query { reviews: [Review] }
type Review @key(fields: "id") @key(fields: "id product { id }") { id: ID! product: Product }
type Product @key(fields: "id", resolvable: false) { id: ID! }
`,
  },
]);
const keys = entityKeysOf(supergraphSdl);

test('tag strings name what they find', () => {
  assert.deepEqual(
    [typeTag('Product'), keylessTag('Product'), declaredTag('catalog'), subgraphTag('products')],
    ['type:Product', 'keyless:Product', 'tag:catalog', 'subgraph:products'],
  );
});

test('keyTag sorts object keys at every depth', () => {
  assert.equal(
    keyTag('Product', { sku: 'a', org: { name: 'n', id: 'o' } }),
    keyTag('Product', { org: { id: 'o', name: 'n' }, sku: 'a' }),
  );
  assert.equal(
    keyTag('Product', { sku: 'a', org: { id: 'o' } }),
    'key:Product:{"org":{"id":"o"},"sku":"a"}',
  );
});

test('keyTag writes a number and the same digits as a string alike', () => {
  assert.equal(keyTag('Product', { id: 1 }), keyTag('Product', { id: '1' }));
  assert.equal(keyTag('Product', { id: 1 }), 'key:Product:{"id":"1"}');
});

test('keyTag keeps the order of arrays and tells types apart', () => {
  assert.notEqual(keyTag('Product', { ids: [1, 2] }), keyTag('Product', { ids: [2, 1] }));
  assert.equal(keyTag('Product', { ids: [1, 2] }), 'key:Product:{"ids":["1","2"]}');
  assert.notEqual(keyTag('Product', { id: 1 }), keyTag('Org', { id: 1 }));
});

test('entityKeysOf reads simple, compound and nested keys, each once', () => {
  // "id" comes from both subgraphs (one not resolvable), and "org { id } sku" is "sku org { id }".
  assert.deepEqual(keys.get('Product'), [
    [{ name: 'id' }],
    [{ name: 'sku' }, { name: 'org', selection: [{ name: 'id' }] }],
  ]);
  assert.deepEqual(keys.get('Org'), [[{ name: 'id' }]]);
  assert.deepEqual(keys.get('Review'), [
    [{ name: 'id' }],
    [{ name: 'id' }, { name: 'product', selection: [{ name: 'id' }] }],
  ]);
});

test('entityKeysOf leaves out types without keys', () => {
  assert.deepEqual([...keys.keys()].sort(), ['Org', 'Product', 'Review']);
});

// [behaviour, type, object, key]
const KEYS: [string, string, Record<string, unknown>, Record<string, unknown> | undefined][] = [
  ['the first complete key, other fields dropped', 'Product', { id: 1, name: 'n' }, { id: 1 }],
  [
    'a later key when the first is missing',
    'Product',
    { sku: 's', org: { id: 'o', name: 'n' }, name: 'x' },
    { sku: 's', org: { id: 'o' } },
  ],
  ['a partial compound key is none', 'Product', { sku: 's', name: 'x' }, undefined],
  ['a partial nested key is none', 'Product', { sku: 's', org: { name: 'n' } }, undefined],
  ['a null key field is none', 'Product', { id: null, sku: 's', org: null }, undefined],
  ['a type that is no entity has none', 'Note', { id: 1 }, undefined],
];

for (const [behaviour, type, object, key] of KEYS) {
  test(`keyOf: ${behaviour}`, () => {
    assert.deepEqual(keyOf(keys, type, object), key);
  });
}
