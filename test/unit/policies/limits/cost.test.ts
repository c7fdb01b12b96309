import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse, type GraphQLSchema } from 'graphql';
import { composeSupergraph } from '../../../../src/composition/compose.ts';
import { GatewayError } from '../../../../src/kernel/errors.ts';
import {
  buildCostModel,
  estimateOperationCost,
  type CostModel,
} from '../../../../src/policies/limits/cost.ts';
import type { FetchNode, PlanNode } from '@apollo/query-planner';
import { planCost } from '../../../../src/policies/limits/cost-planner.ts';
import { VariableReader } from '../../../../src/policies/limits/cost-rules.ts';
import { weighResponse } from '../../../../src/policies/limits/response-cost.ts';

const SDL = `
directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
type Query {
  book(id: ID!): Book
  books(first: Int = 5, last: Int): [Book!]! @listSize(slicingArguments: ["first", "last"])
  either(first: Int, last: Int): [Book] @listSize(slicingArguments: ["first", "last"], requireOneSlicingArgument: false)
  recent(limit: Int): [Book] @listSize(slicingArguments: ["limit"])
  byIds(ids: [ID!]!): [Book] @listSize(slicingArguments: ["ids"])
  page(input: PageInput!): [Book] @listSize(slicingArguments: ["input.size"])
  top: [Book] @listSize(assumedSize: 3)
  all: [Book]
  search(filter: Filter @cost(weight: 4)): [Result] @listSize(assumedSize: 2)
  media(first: Int!): [Media] @listSize(slicingArguments: ["first"])
  bookConnection(first: Int): BookConnection @listSize(slicingArguments: ["first"], sizedFields: ["edges"])
  expensive: Int @cost(weight: 20)
}
type Mutation { addBook(title: String): Book  importBook(input: BookInput): Book }
type Book @cost(weight: 2) { id: ID! title: String author: Author rating: Float @cost(weight: 3) }
type Author { name: String books(first: Int = 3): [Book] @listSize(slicingArguments: ["first"]) }
union Result = Book | Author
interface Media { id: ID! title: String }
type Film implements Media @cost(weight: 5) { id: ID! title: String director: Author reviews: [Review] @listSize(assumedSize: 4) }
type Track implements Media { id: ID! title: String artist: Author }
type Review { stars: Int }
input Filter { text: String deep: Boolean @cost(weight: 6) }
input PageInput { size: Int }
input BookInput { title: String }
type BookConnection { edges: [BookEdge] pageInfo: PageInfo }
type BookEdge { node: Book }
type PageInfo { hasNext: Boolean }
`;
const schema = buildSchema(SDL);
const model = buildCostModel(SDL, 10);

function estimate(
  source: string,
  variables: Record<string, unknown> = {},
  name?: string,
  over: { model: CostModel; schema: GraphQLSchema } = { model, schema },
) {
  return estimateOperationCost(over.model, {
    document: parse(source),
    name,
    variables,
    schema: over.schema,
  });
}

// [operation, variables, estimate, why]. Book weighs 2 (@cost on the type), other objects 1,
// scalars 0; unsized lists hold list_size (10) items.
const ESTIMATES: [string, Record<string, unknown>, number, string][] = [
  ['{ book(id: 1) { id title } }', {}, 2, 'Book weighs 2 (@cost on the type); scalars 0'],
  ['{ book(id: 1) { author { name } } }', {}, 3, 'an object without weight costs 1'],
  ['{ book(id: 1) { rating } }', {}, 5, 'a field weight counts on a scalar too'],
  ['{ books(first: 10) { id } }', {}, 20, 'the slicing argument sizes the list: 10 x 2'],
  ['{ books { id } }', {}, 10, "a slicing argument's default value sizes it: 5 x 2"],
  ['{ either(first: 3, last: 7) { id } }', {}, 14, 'requireOne false: the largest given, 7 x 2'],
  ['query($n: Int) { books(first: $n) { id } }', { n: 4 }, 8, 'variables are read: 4 x 2'],
  [
    'query($ids: [ID!]!) { byIds(ids: $ids) { id } }',
    { ids: [1, 2, 3] },
    6,
    'a list sizes by its length: 3 x 2',
  ],
  [
    '{ page(input: { size: 2 }) { id } }',
    {},
    5,
    'a path into an input object: 2 x 2, + 1 for the input object',
  ],
  [
    'query($p: PageInput!) { page(input: $p) { id } }',
    { p: { size: 7 } },
    15,
    'the same path through a variable: 7 x 2 + 1',
  ],
  ['{ top { id } }', {}, 6, 'assumedSize: 3 x 2'],
  ['{ all { id } }', {}, 20, 'list_size for an unsized list: 10 x 2'],
  [
    '{ books(first: 4) { author { books(first: 3) { author { name } } } } }',
    {},
    48,
    'nested lists multiply: 4 x (2 + author 1 + 3 x (2 + author 1)) = 4 x 12',
  ],
  [
    '{ search(filter: { text: "x", deep: true }) { ... on Book { id } ... on Author { name } } }',
    {},
    12,
    'union 1 x 2 items, + the argument (4, an input object) and the input field given (6)',
  ],
  [
    '{ search { ... on Book { author { name } rating } ... on Author { books(first: 5) { id } } } }',
    {},
    22,
    'a union counts its costliest member: 2 x (1 + max(Book 1 + 3, Author 5 x 2)); the sum would be 30',
  ],
  [
    '{ media(first: 3) { id ... on Film { director { name } reviews { stars } } ... on Track { artist { name } } } }',
    {},
    18,
    'an interface counts its costliest type: 3 x (1 + max(Film 1 + 4 x 1, Track 1)); the sum would be 21',
  ],
  [
    '{ media(first: 2) { ...F } } fragment F on Film { director { name } }',
    {},
    4,
    'a named fragment on one type of an interface: 2 x (1 + max(Film 1, Track 0))',
  ],
  [
    '{ bookConnection(first: 4) { edges { node { id } } pageInfo { hasNext } } }',
    {},
    14,
    'sizedFields: the connection 1, 4 edges x (1 + Book 2), pageInfo 1',
  ],
  ['mutation { addBook(title: "x") { id } }', {}, 12, 'a mutation starts at 10'],
  [
    'mutation { importBook(input: { title: "x" }) { id author { name } } }',
    {},
    14,
    '10 + Book 2 + author 1 + the input object 1',
  ],
  ['{ expensive }', {}, 20, 'a weighted scalar field'],
  ['{ __typename book(id: 1) { __typename id } }', {}, 2, '__typename is free'],
  [
    'query($hide: Boolean!) { book(id: 1) @skip(if: $hide) { id } all { id } }',
    { hide: true },
    20,
    'skipped fields cost nothing',
  ],
  [
    '{ book(id: 1) { ...F } } fragment F on Book { author { name } }',
    {},
    3,
    'named fragments count where they are spread',
  ],
];
for (const [operation, variables, cost, why] of ESTIMATES) {
  test(`estimate ${cost}: ${operation.slice(0, 60)} (${why})`, () => {
    assert.equal(estimate(operation, variables).cost, cost);
  });
}

// A field whose @listSize requires one slicing argument refuses an operation that gives none
// or several, with Apollo Router's code (its demand control's QueryParseFailure).
const REFUSED: [string, Record<string, unknown>, number][] = [
  ['{ books(first: 3, last: 7) { id } }', {}, 2],
  ['{ recent { id } }', {}, 0],
  ['query($n: Int) { recent(limit: $n) { id } }', { n: null }, 0],
];
for (const [operation, variables, found] of REFUSED) {
  test(`requireOneSlicingArgument refuses ${found} slicing arguments: ${operation}`, () => {
    assert.throws(
      () => estimate(operation, variables),
      (error: unknown) =>
        error instanceof GatewayError &&
        error.code === 'COST_QUERY_PARSE_FAILURE' &&
        error.extensions.found === found,
    );
  });
}

/** Two books of ten, one with an author. */
const TWO_BOOKS = {
  books: [
    { id: 1, author: { name: 'a' } },
    { id: 2, author: null },
  ],
};
/** A film with a director and two reviews, and a track with an artist. */
const FILM_AND_TRACK = {
  media: [
    { __typename: 'Film', id: 1, director: { name: 'd' }, reviews: [{ stars: 1 }, { stars: 2 }] },
    { __typename: 'Track', id: 2, artist: { name: 'x' } },
  ],
};

// [operation, variables, data, actual cost, why]: the same rules over the data that came back.
const ACTUALS: [string, Record<string, unknown>, unknown, number, string][] = [
  [
    '{ books(first: 10) { id author { name } } }',
    {},
    TWO_BOOKS,
    5,
    'two books of ten: 2 x 2, one author 1, a null Author 0',
  ],
  [
    '{ media(first: 3) { id ... on Film { director { name } reviews { stars } } ... on Track { artist { name } } } }',
    {},
    FILM_AND_TRACK,
    6,
    'each item by its own type: 2 items 1 each, Film director 1 + 2 reviews, Track artist 1',
  ],
  [
    '{ search { ... on Book { rating } ... on Author { name } } }',
    {},
    {
      search: [
        { __typename: 'Book', rating: 1 },
        { __typename: 'Author', name: 'n' },
      ],
    },
    5,
    'union items 1 each, rating weighs 3 on the Book only',
  ],
  [
    'query ($a: Boolean!) { books(first: 10) { id author @include(if: $a) { name } } }',
    { a: false },
    TWO_BOOKS,
    4,
    'a field @include leaves out is not counted, even when the data holds it',
  ],
  [
    'query ($s: Boolean!) { media(first: 3) { id ... on Film @skip(if: $s) { director { name } reviews { stars } } ... on Track { artist { name } } } }',
    { s: true },
    FILM_AND_TRACK,
    3,
    'a fragment @skip leaves out: 2 items, the Track artist 1',
  ],
  [
    '{ books(first: 10) { id author { name } author { name } } }',
    {},
    TWO_BOOKS,
    6,
    'a field selected twice counts twice (the walk follows the document)',
  ],
  [
    'mutation { addBook(title: "x") { id } }',
    {},
    { addBook: { id: 1 } },
    2,
    'the data only: the mutation base is not counted (as the Router)',
  ],
];
for (const [operation, variables, data, cost, why] of ACTUALS) {
  test(`actual ${cost}: ${operation.slice(0, 60)} (${why})`, () => {
    const actual = weighResponse(
      model,
      schema,
      parse(operation),
      undefined,
      data,
      new VariableReader(variables),
    );
    assert.equal(actual, cost);
  });
}

test('an estimate that read a variable is marked so it is not cached', () => {
  assert.equal(
    estimate('query($n: Int) { books(first: $n) { id } }', { n: 1 }).variableDependent,
    true,
  );
  assert.equal(estimate('{ top { id } }').variableDependent, false);
});

test('fragments spreading fragments twice over are weighed in linear time', () => {
  // F0 costs 1 (an Author); each Fi spreads F(i-1) twice: 2^40 in all, from a 40-line document.
  const fragments = ['fragment F0 on Book { author { name } }'];
  for (let i = 1; i <= 40; i++)
    fragments.push(`fragment F${i} on Book { ...F${i - 1} ...F${i - 1} }`);
  assert.equal(estimate(`{ book(id: 1) { ...F40 } } ${fragments.join(' ')}`).cost, 2 + 2 ** 40);
});

test('the operation named is the one weighed', () => {
  const source = 'query A { book(id: 1) { id } } query B { top { id } }';
  assert.equal(estimate(source, {}, 'A').cost, 2);
  assert.equal(estimate(source, {}, 'B').cost, 6);
});

function supergraphOf(subgraphs: Record<string, string>, listSize = 10) {
  const { supergraphSdl } = composeSupergraph(
    Object.entries(subgraphs).map(([name, sdl]) => ({
      name,
      url: `http://127.0.0.1:9/${name}`,
      sdl,
      sourceName: name,
    })),
  );
  return {
    model: buildCostModel(supergraphSdl, listSize),
    schema: buildSchema(supergraphSdl, { assumeValidSDL: true }),
  };
}

const FED = (imports: string) =>
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: [${imports}])`;

test('weights come through composition under the names its @link gives them', () => {
  const graph = supergraphOf({
    library: `${FED('"@key", "@cost", "@listSize"')}
      type Query { books(first: Int): [Book] @listSize(slicingArguments: ["first"]) }
      type Book @key(fields: "id") @cost(weight: 4) { id: ID! title: String @cost(weight: 7) }`,
  });
  // One fetch: 3 books x (Book 4 + title 7)
  assert.equal(estimate('{ books(first: 3) { title } }', {}, undefined, graph).cost, 33);
});

// Two subgraphs: Ship.fee @requires the owner's addresses, which only `users` serves. The plan
// is three fetches, and the estimate is theirs, each weighed on its subgraph (list_size 10);
// an entity fetch counts the representations its Flatten path reaches, `_entities` that many:
//   ships:  { ships(first: 2) { name owner { id } } }       2 x (Ship 1 + owner 1)             = 4
//   users:  Flatten(ships.@.owner) _entities { ... on User { addresses { zip } } }
//           2 ships x 1 owner (a field the planner added) = 2 x (1 + 2 addresses x 1)   = 6
//   ships:  Flatten(ships.@) _entities { ... on Ship { fee } }      2 x (1 + 0)         = 2
// 12 in all (the Router counts 10 representations per entity fetch: 4 + 30 + 10 = 44).
// Without fee, only the first fetch runs: 2 x 1 = 2.
const SHIPS = supergraphOf({
  ships: `${FED('"@key", "@external", "@requires", "@listSize"')}
    type Query { ships(first: Int): [Ship] @listSize(slicingArguments: ["first"]) }
    type Ship @key(fields: "id") { id: ID! name: String owner: User fee: Float @requires(fields: "owner { addresses { zip } }") }
    type User @key(fields: "id") { id: ID! addresses: [Address] @external }
    type Address { zip: Int @external }`,
  users: `${FED('"@key", "@listSize", "@shareable"')}
    type User @key(fields: "id") { id: ID! name: String addresses: [Address] @listSize(assumedSize: 2) }
    type Address @shareable { zip: Int }`,
});

test('@requires: the fetches the plan adds for required fields count', () => {
  assert.equal(estimate('{ ships(first: 2) { name } }', {}, undefined, SHIPS).cost, 2);
  assert.equal(estimate('{ ships(first: 2) { name fee } }', {}, undefined, SHIPS).cost, 12);
});

test("where the path is one unsized list, the Router's own figure: federated_query_with_requires", () => {
  // Its federated_ships fixture at list_size 100 (static_cost.rs: planned cost 10400):
  //   vehicles: ships 100 x (Ship 1 + owner 1)                                 = 200
  //   users:    Flatten(ships.@.owner) 100 x 1 = 100 x (1 + 100 addresses x 1)  = 10100
  //   vehicles: Flatten(ships.@) 100 x (1 + registrationFee 0)                  = 100
  const vehicles = supergraphOf(
    {
      vehicles: `${FED('"@key", "@external", "@requires"')}
      type Query { ships: [Ship!]! }
      type Ship @key(fields: "id") { id: ID! name: String! owner: User! registrationFee: Float @requires(fields: "owner { addresses { zipCode } }") }
      type User @key(fields: "licenseNumber") { licenseNumber: ID! addresses: [Address!]! @external }
      type Address { zipCode: Int! @external }`,
      users: `${FED('"@key", "@shareable"')}
      type Query { users: [User!]! }
      type User @key(fields: "licenseNumber") { licenseNumber: ID! name: String! addresses: [Address!]! }
      type Address @shareable { zipCode: Int! }`,
    },
    100,
  );
  assert.equal(estimate('{ ships { name registrationFee } }', {}, undefined, vehicles).cost, 10400);
});

// Products in `catalog`, their reviews in `reviews`, the reviews' authors in `people`: each
// join is an entity fetch under Flatten(path), and `_entities` counts one instance per object at
// that path: the product of the sizes of the lists (`@`) along it, a single object 1. `_entities`
// returns the union _Entity (1 each); its `$representations` argument costs nothing.
const SHOP = supergraphOf({
  catalog: `${FED('"@key", "@listSize"')}
    type Query {
      product(id: ID!): Product
      products(first: Int): [Product] @listSize(slicingArguments: ["first"])
      productConnection(first: Int): ProductConnection @listSize(slicingArguments: ["first"], sizedFields: ["edges"])
    }
    type Product @key(fields: "id") { id: ID! name: String }
    type ProductConnection { edges: [ProductEdge] }
    type ProductEdge { node: Product }`,
  reviews: `${FED('"@key", "@listSize"')}
    type Product @key(fields: "id") { id: ID! reviews(first: Int): [Review] @listSize(slicingArguments: ["first"]) }
    type Review { body: String author: User }
    type User @key(fields: "id", resolvable: false) { id: ID! }`,
  people: `${FED('"@key"')}
    type User @key(fields: "id") { id: ID! name: String }`,
});

const ENTITY_ESTIMATES: [string, Record<string, unknown>, number, string][] = [
  [
    '{ product(id: 1) { name reviews(first: 3) { body } } }',
    {},
    5,
    'under one object, 1 representation: catalog product 1; Flatten(product) 1 x (1 + 3 reviews x 1) = 4',
  ],
  [
    'query($n: Int) { products(first: $n) { name reviews(first: 2) { body } } }',
    { n: 50 },
    200,
    'under a list of $n = 50: catalog 50 x 1; Flatten(products.@) 50 x (1 + 2 x 1) = 150',
  ],
  [
    'query($n: Int, $m: Int) { products(first: $n) { reviews(first: $m) { body author { name } } } }',
    { n: 4, m: 5 },
    68,
    'nested lists, 4 x 5: catalog 4 x 1; Flatten(products.@) 4 x (1 + 5 x (Review 1 + author 1)) = 44; ' +
      'Flatten(products.@.reviews.@.author) 4 x 5 = 20 x User 1',
  ],
  [
    'query($r: Boolean!) { products(first: 3) { name reviews(first: 2) @include(if: $r) { body } } }',
    { r: false },
    12,
    'a condition in the plan counts its costlier branch: 3 x 1 + Include(if: $r) 3 x (1 + 2 x 1)',
  ],
  [
    '{ a: product(id: 1) { reviews(first: 2) { body } } b: products(first: 6) { reviews(first: 2) { body } } }',
    {},
    28,
    'aliases name the path: catalog 1 + 6 x 1; Flatten(a) 1 x (1 + 2) = 3; Flatten(b.@) 6 x (1 + 2) = 18',
  ],
  [
    '{ productConnection(first: 4) { edges { node { reviews(first: 2) { body } } } } }',
    {},
    21,
    'sizedFields size the path too: catalog 1 x (1 + 4 edges x (1 + node 1)) = 9; ' +
      'Flatten(productConnection.edges.@.node) 4 x (1 + 2) = 12',
  ],
];
for (const [operation, variables, cost, why] of ENTITY_ESTIMATES) {
  test(`entity fetch estimate ${cost}: ${operation.slice(0, 50)} (${why})`, () => {
    assert.equal(estimate(operation, variables, undefined, SHOP).cost, cost);
  });
}

test('an entity fetch estimate that reads no client variable is cached', () => {
  // `$representations` is the planner's: reading it would make every entity fetch uncacheable.
  assert.equal(
    estimate('{ product(id: 1) { reviews(first: 3) { body } } }', {}, undefined, SHOP)
      .variableDependent,
    false,
  );
});

test('a deferred or conditional fetch is weighed with the path of its Flatten', () => {
  const fetch = (serviceName: string) =>
    ({ kind: 'Fetch', serviceName, operation: '', operationKind: 'query' }) as unknown as FetchNode;
  const paths: [string, string | undefined][] = [];
  const cost = planCost(
    {
      kind: 'Defer',
      primary: { node: fetch('a') },
      deferred: [
        {
          depends: [],
          queryPath: [],
          label: undefined,
          node: {
            kind: 'Condition',
            condition: 'x',
            ifClause: { kind: 'Flatten', path: ['list', '@'], node: fetch('b') },
            elseClause: undefined,
          },
        },
      ],
    } as unknown as PlanNode,
    (node, path) => {
      paths.push([node.serviceName, path?.join('.')]);
      return 1;
    },
  );
  assert.equal(cost, 2);
  assert.deepEqual(paths, [
    ['a', undefined],
    ['b', 'list.@'],
  ]);
});
