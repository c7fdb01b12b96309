import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse, validate } from 'graphql';
import { hintsFromSdl, type CacheScope } from '../../../../src/policies/cache/hints.ts';
import { fetchPolicy, operationPolicy, restrict } from '../../../../src/policies/cache/policy.ts';

const SDL = `
directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean, staleWhileRevalidate: Int) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
directive @cacheTag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
enum CacheControlScope { PUBLIC PRIVATE }
type Query {
  version: String
  hello: String @cacheControl(maxAge: 120)
  product(id: ID): Product
  products: [Product] @cacheControl(maxAge: 30) @cacheTag(name: "listing")
  catalog: Product @cacheControl(maxAge: 300)
  rootStock: Stock
  rootVendor: Vendor @cacheControl(inheritMaxAge: true)
  fresh: Vendor @cacheControl(maxAge: 100, staleWhileRevalidate: 5)
  me: User
  media: [Media]
  search: [Result] @cacheControl(maxAge: 90)
}
type Mutation { rename(name: String): Product }
type Product @cacheControl(maxAge: 60, staleWhileRevalidate: 20) @cacheTag(name: "catalog") {
  id: ID!
  name: String
  price: Int @cacheControl(maxAge: 10)
  secret: String @cacheControl(scope: PRIVATE)
  reviews: [Review]
  vendor: Vendor @cacheControl(inheritMaxAge: true)
  stock: Stock
  owner: User
}
type Review { body: String }
type Vendor { name: String }
type Stock @cacheControl(inheritMaxAge: true) { count: Int }
type User @cacheControl(maxAge: 100, scope: PRIVATE) { name: String }
interface Media @cacheControl(maxAge: 45) { id: ID! title: String }
type Film implements Media @cacheControl(maxAge: 40) {
  id: ID!
  title: String
  director: String @cacheControl(maxAge: 5)
}
type Track implements Media { id: ID! title: String @cacheControl(maxAge: 15) }
union Result = Product | User
`;
const schema = buildSchema(SDL);
const hints = hintsFromSdl([parse(SDL)]);

// [behaviour, operation, default maxAge, maxAge, scope, staleWhileRevalidate]; the numbers are
// the minimum over the fields the operation selects, by Apollo Server's rules.
const POLICIES: [string, string, number, number, CacheScope, number][] = [
  [
    'a scalar root field without hints gets the default maxAge',
    '{ version }',
    600,
    600,
    'PUBLIC',
    0,
  ],
  ["a root field's own hint sets its maxAge", '{ hello }', 600, 120, 'PUBLIC', 0],
  [
    "a composite field takes its type's hint, staleWhileRevalidate too",
    '{ product(id: 1) { id name } }',
    0,
    60,
    'PUBLIC',
    20,
  ],
  [
    "a field's hint replaces its type's, and a maxAge without staleWhileRevalidate allows none",
    '{ catalog { id } }',
    0,
    300,
    'PUBLIC',
    0,
  ],
  ['a shorter field hint wins over its type', '{ products { id } }', 0, 30, 'PUBLIC', 0],
  [
    'a scalar field with a hint restricts its parent',
    '{ product(id: 1) { price } }',
    0,
    10,
    'PUBLIC',
    0,
  ],
  [
    'an unhinted composite field gets the default maxAge, 0',
    '{ product(id: 1) { reviews { body } } }',
    0,
    0,
    'PUBLIC',
    0,
  ],
  [
    'an unhinted composite field gets a longer default too, and the minimum stays',
    '{ product(id: 1) { reviews { body } } }',
    600,
    60,
    'PUBLIC',
    0,
  ],
  [
    'inheritMaxAge on a field takes the parent maxAge',
    '{ product(id: 1) { vendor { name } } }',
    0,
    60,
    'PUBLIC',
    20,
  ],
  [
    'inheritMaxAge on the returned type takes the parent maxAge',
    '{ product(id: 1) { stock { count } } }',
    0,
    60,
    'PUBLIC',
    20,
  ],
  [
    'a root field returning an inheriting type gets the default maxAge',
    '{ rootStock { count } }',
    600,
    600,
    'PUBLIC',
    0,
  ],
  [
    'a root field that inherits gets the default maxAge',
    '{ rootVendor { name } }',
    0,
    0,
    'PUBLIC',
    0,
  ],
  [
    'a PRIVATE type deep in the selection makes the operation PRIVATE',
    '{ products { owner { name } } }',
    0,
    30,
    'PRIVATE',
    0,
  ],
  [
    "a field's scope alone makes it PRIVATE and keeps the maxAge",
    '{ product(id: 1) { secret } }',
    0,
    60,
    'PRIVATE',
    20,
  ],
  [
    'staleWhileRevalidate is the smallest among the fields',
    '{ product(id: 1) { id } fresh { name } }',
    0,
    60,
    'PUBLIC',
    5,
  ],
  [
    "a field on an interface is hinted by the implementations' fields",
    '{ media { title } }',
    0,
    15,
    'PUBLIC',
    0,
  ],
  [
    'an interface field without hints keeps the interface type hint',
    '{ media { id } }',
    0,
    45,
    'PUBLIC',
    0,
  ],
  [
    'an inline fragment on an implementation reads its fields',
    '{ media { ... on Film { director } } }',
    0,
    5,
    'PUBLIC',
    0,
  ],
  [
    'a named fragment on the interface, nested fragments too',
    '{ media { ...M } } fragment M on Media { id ... on Track { title } }',
    0,
    15,
    'PUBLIC',
    0,
  ],
  [
    'a fragment on a union member reads its fields',
    '{ search { ... on Product { price } } }',
    0,
    10,
    'PUBLIC',
    0,
  ],
  [
    "a union member's type hint counts only where a field returns it",
    '{ search { ... on User { name } } }',
    0,
    90,
    'PUBLIC',
    0,
  ],
  [
    'only __typename restricts nothing: the default maxAge',
    '{ __typename }',
    600,
    600,
    'PUBLIC',
    0,
  ],
  ['introspection restricts nothing', '{ hello __schema { types { name } } }', 0, 120, 'PUBLIC', 0],
  [
    'fields under @skip count: the policy is static',
    '{ product(id: 1) { name price @skip(if: true) } }',
    0,
    10,
    'PUBLIC',
    0,
  ],
  ['aliases change nothing', '{ a: hello b: product(id: 1) { p: price } }', 0, 10, 'PUBLIC', 0],
];

for (const [behaviour, source, defaultMaxAge, maxAge, scope, staleWhileRevalidate] of POLICIES) {
  test(`operationPolicy: ${behaviour}`, () => {
    const document = parse(source);
    assert.deepEqual(validate(schema, document), [], 'the operation is valid');
    const policy = operationPolicy(schema, hints, defaultMaxAge, document);
    assert.deepEqual(
      {
        maxAge: policy.maxAge,
        scope: policy.scope,
        staleWhileRevalidate: policy.staleWhileRevalidate,
      },
      { maxAge, scope, staleWhileRevalidate },
    );
  });
}

test('operationPolicy lists the object types reached and the tags declared on the way', () => {
  const policy = operationPolicy(
    schema,
    hints,
    0,
    parse('{ search { ... on Product { id } } products { name } media { id } }'),
  );
  assert.deepEqual(policy.types, ['Film', 'Product', 'Track', 'User']);
  assert.deepEqual(policy.tags, ['catalog', 'listing']);
  assert.equal(policy.rootType, 'Query');
});

test('operationPolicy picks the named operation and names its root type', () => {
  const document = parse('query Q { hello } mutation M { rename { id } }');
  const mutation = operationPolicy(schema, hints, 0, document, 'M');
  assert.equal(mutation.rootType, 'Mutation');
  assert.equal(mutation.maxAge, 60);
  assert.equal(operationPolicy(schema, hints, 0, document, 'Q').maxAge, 120);
});

test('operationPolicy of an operation the document lacks allows no caching', () => {
  assert.equal(operationPolicy(schema, hints, 600, parse('{ hello }'), 'Missing').maxAge, 0);
});

test('operationPolicy returns the same object for the same document, schema and name', () => {
  const document = parse('query Q { hello } query R { version }');
  const first = operationPolicy(schema, hints, 0, document, 'Q');
  assert.equal(operationPolicy(schema, hints, 0, document, 'Q'), first);
  assert.notEqual(operationPolicy(schema, hints, 0, document, 'R'), first);
  assert.notEqual(operationPolicy(buildSchema(SDL), hints, 0, document, 'Q'), first);
  assert.notEqual(operationPolicy(schema, hints, 5, document, 'Q'), first);
});

const ENTITIES_FETCH =
  'query($representations:[_Any!]!){_entities(representations:$representations){...on Product{name price}}}';

test('fetchPolicy reads an _entities fetch as a root field per type it asks for', () => {
  // Product's hint (60) as a returned type, then price (10).
  const policy = fetchPolicy(schema, hints, 0, ENTITIES_FETCH);
  assert.equal(policy.maxAge, 10);
  assert.deepEqual(policy.types, ['Product']);
  assert.deepEqual(policy.tags, ['catalog']);
});

test('fetchPolicy gives an _entities type without a hint the default maxAge', () => {
  const query =
    'query($representations:[_Any!]!){_entities(representations:$representations){...on Product{id} ...on Review{body}}}';
  assert.equal(fetchPolicy(schema, hints, 0, query).maxAge, 0);
  assert.equal(fetchPolicy(schema, hints, 600, query).maxAge, 60);
  const hidden =
    'query($representations:[_Any!]!){_entities(representations:$representations){...on Hidden{x}}}';
  assert.equal(fetchPolicy(schema, hints, 600, hidden).maxAge, 600);
  assert.deepEqual(fetchPolicy(schema, hints, 600, hidden).types, ['Hidden']);
});

test('fetchPolicy reads a root fetch like an operation', () => {
  assert.equal(fetchPolicy(schema, hints, 0, '{products{__typename id name}}').maxAge, 30);
});

test('fetchPolicy counts a field the API schema hides as a scalar', () => {
  assert.equal(fetchPolicy(schema, hints, 0, '{product{id hidden{deep}}}').maxAge, 60);
});

test('fetchPolicy of a query that does not parse allows no caching', () => {
  assert.equal(fetchPolicy(schema, hints, 600, '{ product {').maxAge, 0);
});

test('fetchPolicy returns the same object for the same query', () => {
  const first = fetchPolicy(schema, hints, 0, ENTITIES_FETCH);
  assert.equal(fetchPolicy(schema, hints, 0, ENTITIES_FETCH), first);
});

// [behaviour, hint, policy after]; the policy before is { maxAge: 60, PUBLIC, swr 20 }.
const RESTRICTIONS: [string, Parameters<typeof restrict>[1], ReturnType<typeof restrict>][] = [
  ['no hint changes nothing', {}, { maxAge: 60, scope: 'PUBLIC', staleWhileRevalidate: 20 }],
  [
    'a smaller maxAge wins',
    { maxAge: 10 },
    { maxAge: 10, scope: 'PUBLIC', staleWhileRevalidate: 0 },
  ],
  [
    'a larger maxAge keeps the smaller, its staleWhileRevalidate still counts',
    { maxAge: 100, staleWhileRevalidate: 5 },
    { maxAge: 60, scope: 'PUBLIC', staleWhileRevalidate: 5 },
  ],
  [
    'PRIVATE wins',
    { scope: 'PRIVATE' },
    { maxAge: 60, scope: 'PRIVATE', staleWhileRevalidate: 20 },
  ],
  [
    'an inheriting hint has no maxAge of its own',
    { maxAge: 1, inheritMaxAge: true },
    { maxAge: 60, scope: 'PUBLIC', staleWhileRevalidate: 20 },
  ],
];

for (const [behaviour, hint, after] of RESTRICTIONS) {
  test(`restrict: ${behaviour}`, () => {
    assert.deepEqual(
      restrict({ maxAge: 60, scope: 'PUBLIC', staleWhileRevalidate: 20 }, hint),
      after,
    );
  });
}
