import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'graphql';
import { measureOperation } from '../../../../src/policies/limits/operation-limits.ts';
import { introspectionField } from '../../../../src/policies/limits/introspection.ts';

// Expected numbers by hand, as Apollo Router counts them (docs/limits.md).
const CASES: [
  name: string,
  query: string,
  depth: number,
  height: number,
  aliases: number,
  rootFields: number,
  directives: number,
][] = [
  ['one field', '{ a }', 1, 1, 0, 1, 0],
  ['nesting', '{ a { b { c } } }', 3, 3, 0, 1, 0],
  ['a repeated response key counts once in its selection set', '{ a a b: a }', 1, 2, 1, 2, 0],
  ['inline fragments add no level', '{ a { ... on T { b } } }', 2, 2, 0, 1, 0],
  [
    'a fragment spread twice counts twice for height and aliases',
    '{ a { ...F ...F } } fragment F on T { x: b c }',
    2,
    5,
    2,
    1,
    0,
  ],
  [
    'fragments spread at the root add root fields',
    '{ a ...R } fragment R on Query { b c }',
    1,
    3,
    0,
    3,
    0,
  ],
  [
    'directives on fields, spreads and the operation',
    'query Q @x { a @include(if: true) ...F @skip(if: false) } fragment F on Query { b @y }',
    1,
    2,
    0,
    2,
    4,
  ],
  [
    'nested fragments',
    '{ a { ...F } } fragment F on T { b { ...G } } fragment G on T { c { d } }',
    4,
    4,
    0,
    1,
    0,
  ],
];

for (const [name, query, depth, height, aliases, rootFields, directives] of CASES) {
  test(`measure: ${name}`, () => {
    assert.deepEqual(measureOperation(parse(query), undefined), {
      depth,
      height,
      aliases,
      rootFields,
      directives,
    });
  });
}

test('a fragment fan-out of 2^30 fields is measured in linear time, counting each fragment once', () => {
  const levels = 30;
  let text = '{ a { ...F0 } }\n';
  for (let i = 0; i < levels; i += 1) text += `fragment F${i} on T { ...F${i + 1} ...F${i + 1} }\n`;
  text += `fragment F${levels} on T { b }`;
  const measure = measureOperation(parse(text), undefined);
  assert.equal(measure.height, 1 + 2 ** levels);
  assert.equal(measure.depth, 2);
});

test('a 10,000-level document is measured without recursion', () => {
  const levels = 10_000;
  // Built as an AST: graphql-js's recursive parser stops near 4,000 levels.
  let selectionSet: any = {
    kind: 'SelectionSet',
    selections: [{ kind: 'Field', name: { kind: 'Name', value: 'id' } }],
  };
  for (let i = 1; i < levels; i += 1)
    selectionSet = {
      kind: 'SelectionSet',
      selections: [{ kind: 'Field', name: { kind: 'Name', value: 'c' }, selectionSet }],
    };
  const document: any = {
    kind: 'Document',
    definitions: [{ kind: 'OperationDefinition', operation: 'query', selectionSet }],
  };
  assert.equal(measureOperation(document, undefined).depth, levels);
});

test('the operation named is the one measured', () => {
  const document = parse('query A { a } query B { a { b { c } } }');
  assert.equal(measureOperation(document, 'B').depth, 3);
  assert.equal(measureOperation(document, 'A').depth, 1);
});

test('introspection is __schema or __type at the root, through fragments; __typename is not', () => {
  const asks = (query: string) => introspectionField(parse(query), undefined) !== undefined;
  assert.equal(asks('{ __schema { types { name } } }'), true);
  assert.equal(asks('{ __type(name: "T") { name } }'), true);
  assert.equal(
    asks('{ ...F } fragment F on Query { ... on Query { __schema { types { name } } } }'),
    true,
  );
  assert.equal(asks('{ __typename }'), false);
  assert.equal(asks('{ a { __typename } }'), false);
  assert.equal(asks('mutation { __typename }'), false);
});
