import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse } from 'graphql';
import { composeSupergraph } from '../../../../src/composition/compose.ts';
import { buildCostModel, estimateOperationCost } from '../../../../src/policies/limits/cost.ts';

const SDL = `
directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
type Query {
  book(id: ID!): Book
  books(first: Int = 5, last: Int): [Book!]! @listSize(slicingArguments: ["first", "last"])
  top: [Book] @listSize(assumedSize: 3)
  all: [Book]
  search(filter: Filter @cost(weight: 4)): [Result] @listSize(assumedSize: 2)
  bookConnection(first: Int): BookConnection @listSize(slicingArguments: ["first"], sizedFields: ["edges"])
  expensive: Int @cost(weight: 20)
}
type Mutation { addBook(title: String): Book }
type Book @cost(weight: 2) { id: ID! title: String author: Author rating: Float @cost(weight: 3) }
type Author { name: String }
union Result = Book | Author
input Filter { text: String deep: Boolean @cost(weight: 6) }
type BookConnection { edges: [BookEdge] pageInfo: PageInfo }
type BookEdge { node: Book }
type PageInfo { hasNext: Boolean }
`;
const schema = buildSchema(SDL);
const model = buildCostModel(SDL, 10);

// [operation, variables, cost, why]
const CASES: [string, Record<string, unknown>, number, string][] = [
  ['{ book(id: 1) { id title } }', {}, 2, 'Book weighs 2 (@cost on the type); scalars 0'],
  ['{ book(id: 1) { author { name } } }', {}, 3, 'an object without weight costs 1'],
  ['{ book(id: 1) { rating } }', {}, 5, 'a field weight counts on a scalar too'],
  ['{ books(first: 10) { id } }', {}, 20, 'the slicing argument sizes the list: 10 x 2'],
  ['{ books { id } }', {}, 10, "a slicing argument's default value sizes it: 5 x 2"],
  ['{ books(first: 3, last: 7) { id } }', {}, 14, 'the largest slicing argument given: 7 x 2'],
  ['query($n: Int) { books(first: $n) { id } }', { n: 4 }, 8, 'variables are read: 4 x 2'],
  ['{ top { id } }', {}, 6, 'assumedSize: 3 x 2'],
  ['{ all { id } }', {}, 20, 'list_size for an unsized list: 10 x 2'],
  [
    '{ search(filter: { text: "x", deep: true }) { ... on Book { id } ... on Author { name } } }',
    {},
    12,
    'union 1 x 2 items, plus the argument (4) and the input field given (6)',
  ],
  [
    '{ bookConnection(first: 4) { edges { node { id } } pageInfo { hasNext } } }',
    {},
    14,
    'sizedFields: the connection 1, 4 edges x (1 + Book 2), pageInfo 1',
  ],
  ['mutation { addBook(title: "x") { id } }', {}, 12, 'a mutation starts at 10'],
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
for (const [operation, variables, cost, why] of CASES) {
  test(`cost ${cost}: ${operation.slice(0, 60)} (${why})`, () => {
    const estimate = estimateOperationCost(model, schema, parse(operation), undefined, variables);
    assert.equal(estimate.cost, cost);
  });
}

test('an estimate that read a variable is marked so it is not cached', () => {
  const byVariable = estimateOperationCost(
    model,
    schema,
    parse('query($n: Int) { books(first: $n) { id } }'),
    undefined,
    { n: 1 },
  );
  const constant = estimateOperationCost(model, schema, parse('{ top { id } }'), undefined, {});
  assert.equal(byVariable.variableDependent, true);
  assert.equal(constant.variableDependent, false);
});

test('fragments spreading fragments twice over are weighed in linear time', () => {
  // F0 costs 1 (an Author); each Fi spreads F(i-1) twice: 2^40 in all, from a 40-line document.
  const fragments = ['fragment F0 on Book { author { name } }'];
  for (let i = 1; i <= 40; i++)
    fragments.push(`fragment F${i} on Book { ...F${i - 1} ...F${i - 1} }`);
  const document = parse(`{ book(id: 1) { ...F40 } } ${fragments.join(' ')}`);
  assert.equal(estimateOperationCost(model, schema, document, undefined, {}).cost, 2 + 2 ** 40);
});

test('the operation named is the one weighed', () => {
  const document = parse('query A { book(id: 1) { id } } query B { top { id } }');
  assert.equal(estimateOperationCost(model, schema, document, 'A', {}).cost, 2);
  assert.equal(estimateOperationCost(model, schema, document, 'B', {}).cost, 6);
});

test('weights come through composition under the names its @link gives them', () => {
  const subgraph = `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@cost", "@listSize"])
    type Query { books(first: Int): [Book] @listSize(slicingArguments: ["first"]) }
    type Book @key(fields: "id") @cost(weight: 4) { id: ID! title: String @cost(weight: 7) }`;
  const { supergraphSdl } = composeSupergraph([
    { name: 'library', url: 'http://127.0.0.1:9/graphql', sdl: subgraph, sourceName: 'library' },
  ]);
  const composed = buildCostModel(supergraphSdl, 10);
  const api = buildSchema(supergraphSdl, { assumeValidSDL: true });
  // 3 books x (Book 4 + title 7)
  assert.equal(
    estimateOperationCost(composed, api, parse('{ books(first: 3) { title } }'), undefined, {})
      .cost,
    33,
  );
});
