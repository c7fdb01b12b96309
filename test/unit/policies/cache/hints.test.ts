import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'graphql';
import { composeSupergraph } from '../../../../src/composition/compose.ts';
import {
  hintsFromSdl,
  mergeHints,
  NO_HINTS,
  parseCacheControl,
  type CacheHint,
} from '../../../../src/policies/cache/hints.ts';

// [header, hint, why]; RFC 9111 §5.2.2 and RFC 5861.
const HEADERS: [string | string[] | undefined, CacheHint & { noStore?: boolean }, string][] = [
  [undefined, {}, 'an absent header is no hint: the caller decides'],
  ['', {}, 'an empty header is no hint'],
  [[], {}, 'no header lines are no hint'],
  ['max-age=60', { maxAge: 60 }, 'max-age'],
  ['max-age=60, s-maxage=30', { maxAge: 30 }, 's-maxage wins over max-age for a shared cache'],
  ['s-maxage=120, max-age=10', { maxAge: 120 }, 's-maxage wins even when longer, in any order'],
  ['no-store', { maxAge: 0, noStore: true }, 'no-store'],
  ['max-age=60, no-cache', { maxAge: 0, noStore: true }, 'no-cache stores nothing either'],
  ['private, max-age=60', { maxAge: 60, scope: 'PRIVATE' }, 'private'],
  ['public, max-age=60', { maxAge: 60, scope: 'PUBLIC' }, 'public'],
  ['public, private', { scope: 'PRIVATE' }, 'private wins over public'],
  ['Max-Age=60, PRIVATE', { maxAge: 60, scope: 'PRIVATE' }, 'directive names ignore case'],
  ['max-age="60"', { maxAge: 60 }, 'a quoted value'],
  [
    'private="set-cookie, x-user", max-age=5',
    { maxAge: 5, scope: 'PRIVATE' },
    'a quoted value holding a comma',
  ],
  [
    'max-age=60, stale-while-revalidate=30',
    { maxAge: 60, staleWhileRevalidate: 30 },
    'stale-while-revalidate',
  ],
  [
    'max-age=60, stale-while-revalidate=30, must-revalidate',
    { maxAge: 60, staleWhileRevalidate: 0 },
    'must-revalidate forbids serving stale',
  ],
  [['max-age=60', 'private'], { maxAge: 60, scope: 'PRIVATE' }, 'repeated header lines'],
  ['max-age=60, max-age=10', { maxAge: 10 }, 'a repeated directive: the smallest value'],
  ['max-age=abc, foo, =, max-age=1 2, public', { scope: 'PUBLIC' }, 'garbage is ignored'],
  ['max-age=-5, max-age=1.5', {}, 'only digits are delta-seconds'],
];

for (const [header, hint, why] of HEADERS) {
  test(`parseCacheControl: ${why}`, () => {
    assert.deepEqual(parseCacheControl(header), hint);
  });
}

const SUBGRAPH_A = `
directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean, staleWhileRevalidate: Int) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
directive @cacheTag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
directive @cacheInvalidate(entities: Boolean = true, types: [String!], tags: [String!]) on FIELD_DEFINITION
enum CacheControlScope { PUBLIC PRIVATE }
type Query { product: Product @cacheControl(maxAge: 30) }
type Product @cacheControl(maxAge: 60, staleWhileRevalidate: 30) @cacheTag(name: "catalog") {
  id: ID!
  price: Int @cacheControl(maxAge: 10) @cacheTag(name: "prices")
  vendor: Vendor @cacheControl(inheritMaxAge: true)
}
type Vendor @cacheControl(inheritMaxAge: true) { name: String }
type Review @cacheControl(maxAge: 120, staleWhileRevalidate: 10) { body: String }
type Mutation { updateProduct: Product @cacheInvalidate(types: ["Catalog"]) }
`;
const SUBGRAPH_B = `
type Product @cacheControl(maxAge: 300, scope: PRIVATE) @cacheTag(name: "products") { id: ID! }
extend type Vendor @cacheControl(inheritMaxAge: true)
type Review @cacheControl(maxAge: 600, staleWhileRevalidate: 5)
type Store @cacheControl(inheritMaxAge: true) { id: ID! }
extend type Product { vendor: Vendor @cacheControl(maxAge: 20) }
type Mutation { updateProduct: Product @cacheInvalidate(entities: false, tags: ["prices"]) }
`;
const merged = hintsFromSdl([parse(SUBGRAPH_A), parse(SUBGRAPH_B)]);

test('hintsFromSdl reads type and field hints from one document', () => {
  const hints = hintsFromSdl([parse(SUBGRAPH_A)]);
  assert.deepEqual(hints.types.get('Product'), { maxAge: 60, staleWhileRevalidate: 30 });
  assert.deepEqual(hints.fields.get('Query.product'), { maxAge: 30 });
  assert.deepEqual(hints.fields.get('Product.vendor'), { inheritMaxAge: true });
  assert.deepEqual(hints.fields.get('Product.id'), undefined);
  assert.deepEqual(hints.tags.get('Product.price'), ['prices']);
  assert.deepEqual(hints.invalidations.get('Mutation.updateProduct'), {
    entities: true,
    types: ['Catalog'],
    tags: [],
  });
});

test('hintsFromSdl keeps the strictest hint a coordinate gets across documents', () => {
  // maxAge min(60, 300); PRIVATE wins; B's maxAge without staleWhileRevalidate allows none.
  assert.deepEqual(merged.types.get('Product'), {
    maxAge: 60,
    scope: 'PRIVATE',
    staleWhileRevalidate: 0,
  });
  // Both give staleWhileRevalidate: the smaller, beside the smaller maxAge.
  assert.deepEqual(merged.types.get('Review'), { maxAge: 120, staleWhileRevalidate: 5 });
});

test('hintsFromSdl keeps inheritMaxAge only when every hint of the coordinate says so', () => {
  assert.deepEqual(merged.types.get('Vendor'), { inheritMaxAge: true });
  assert.deepEqual(merged.types.get('Store'), { inheritMaxAge: true });
  assert.deepEqual(merged.fields.get('Product.vendor'), { maxAge: 20, staleWhileRevalidate: 0 });
});

test('hintsFromSdl unites tags and invalidations across documents', () => {
  assert.deepEqual(merged.tags.get('Product'), ['catalog', 'products']);
  assert.deepEqual(merged.invalidations.get('Mutation.updateProduct'), {
    entities: true,
    types: ['Catalog'],
    tags: ['prices'],
  });
});

test('hintsFromSdl reads directives a @link import renames, in a composed supergraph', () => {
  const { supergraphSdl } = composeSupergraph([
    {
      name: 'products',
      url: 'http://products',
      sourceName: 'products.graphql',
      sdl: `
extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@composeDirective"])
  @link(url: "https://example.dev/cache/v1.0", import: [{ name: "@cacheControl", as: "@cc" }, { name: "@cacheTag", as: "@tag2" }])
  @composeDirective(name: "@cc")
  @composeDirective(name: "@tag2")
enum CacheControlScope { PUBLIC PRIVATE }
directive @cc(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
directive @tag2(name: String!) repeatable on FIELD_DEFINITION | OBJECT
type Query { topProducts: [Product] @cc(maxAge: 30) }
type Product @key(fields: "id") @cc(maxAge: 60, scope: PRIVATE) @tag2(name: "catalog") { id: ID! }
`,
    },
  ]);
  const hints = hintsFromSdl([parse(supergraphSdl)]);
  assert.deepEqual(hints.types.get('Product'), { maxAge: 60, scope: 'PRIVATE' });
  assert.deepEqual(hints.fields.get('Query.topProducts'), { maxAge: 30 });
  assert.deepEqual(hints.tags.get('Product'), ['catalog']);
});

test('hintsFromSdl ignores directives of other names and hints on input types', () => {
  const hints = hintsFromSdl([
    parse(`
      type Query { a: Int @other(maxAge: 5) }
      input In @cacheControl(maxAge: 1) { x: Int @cacheControl(maxAge: 1) }
    `),
  ]);
  assert.deepEqual(hints, { ...NO_HINTS });
});

test('mergeHints lets a later layer replace a coordinate whole', () => {
  const config = {
    ...NO_HINTS,
    types: new Map([['Product', { scope: 'PUBLIC' as const }]]),
    tags: new Map([['Product', ['config']]]),
  };
  const hints = mergeHints(merged, config);
  assert.deepEqual(hints.types.get('Product'), { scope: 'PUBLIC' });
  assert.deepEqual(hints.types.get('Review'), merged.types.get('Review'));
  assert.deepEqual(hints.tags.get('Product'), ['config']);
  assert.deepEqual(hints.tags.get('Product.price'), ['prices']);
});
