import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse, print, specifiedRules, validate, type DocumentNode } from 'graphql';
import { composeSupergraph } from '../../../../src/composition/compose.ts';
import type { Identity, RequestContext } from '../../../../src/kernel/context.ts';
import { authorizationOf, authorize } from '../../../../src/policies/auth/authorize.ts';
import { buildAuthModel } from '../../../../src/policies/auth/requirements.ts';

const TYPES = `
type Query { me: User users: [User!]! grid: [[User!]] search: [Result!]! secret: String @authenticated }
type User { id: ID! name: String email(format: String): String @requiresScopes(scopes: [["email"]]) friends: [User!]! badge: Badge }
type Badge @authenticated { label: String }
type Team { id: ID! motto: String @authenticated }
union Result = User | Team
`;
const DIRECTIVES = `
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
`;
const schema = buildSchema(DIRECTIVES + TYPES);
const supergraph = composeSupergraph([
  {
    name: 'only',
    url: 'http://only',
    sourceName: 'only',
    sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@authenticated", "@requiresScopes"])\n${TYPES}`,
  },
]).supergraphSdl;
const { model } = buildAuthModel(supergraph, new Map());

function contextFor(
  document: DocumentNode,
  identity?: Identity,
  variables: Record<string, unknown> = {},
): RequestContext {
  return {
    snapshot: { authModel: model },
    identity,
    operation: { document, name: undefined, variables, schema },
  } as unknown as RequestContext;
}

const caller = (scopes: string[] = []): Identity => ({
  kind: 'jwt',
  subject: 's',
  scopes,
  claims: {},
});

test('a caller allowed everything the operation reads gets no copy of it', () => {
  const ctx = contextFor(parse('{ me { id email badge { label } } }'), caller(['email']));
  authorize(ctx);
  assert.equal(authorizationOf(ctx), undefined);
});

test('an operation reading nothing guarded gets no copy, whoever calls', () => {
  const ctx = contextFor(parse('{ me { id name friends { name } } }'));
  authorize(ctx);
  assert.equal(authorizationOf(ctx), undefined);
});

test('a graph without requirements decides nothing: the stage returns at once', () => {
  const ctx = {
    snapshot: { authModel: { fields: new Map(), policies: new Map() } },
    operation: { document: parse('{ me { id } }'), name: undefined, variables: {}, schema },
  } as unknown as RequestContext;
  authorize(ctx);
  assert.equal(authorizationOf(ctx), undefined);
});

// [operation, the copy an anonymous caller's plan is built from, what it exercises]
const COPIES: [string, string, string][] = [
  ['{ me { id email } }', '{ me { id } }', 'a field left out'],
  [
    '{ me { email } }',
    '{ me { __authz_typename: __typename } }',
    'a selection set left empty keeps a private __typename',
  ],
  [
    '{ secret }',
    '{ __authz_typename: __typename }',
    'an operation left with no root field keeps one: __typename, which no subgraph is asked for',
  ],
  [
    '{ me { ...F name } } fragment F on User { email }',
    '{ me { ...F name } } fragment F on User { __authz_typename: __typename }',
    'a fragment left empty keeps a private __typename',
  ],
  [
    '{ me { badge { ...B } } } fragment B on Badge { label }',
    '{ me { __authz_typename: __typename } }',
    'a fragment spread only under a removed field goes with it',
  ],
  [
    '{ search { ... on User { name email } ... on Team { motto } } }',
    '{ search { ... on User { name } ... on Team { __authz_typename: __typename } __authz_typename: __typename } }',
    'under an abstract type the copy asks for the type of each object',
  ],
  [
    '{ __authz_typename: me { id email } }',
    '{ __authz_typename: me { id } }',
    'a client’s own alias is left alone',
  ],
  [
    '{ __authz_typename: me { email } }',
    '{ __authz_typename: me { __authz_typename2: __typename } }',
    '... and the private alias avoids it',
  ],
  [
    'query($format: String, $show: Boolean!) { me { id @include(if: $show) } users { email(format: $format) } }',
    'query($show: Boolean!) { me { id @include(if: $show) } users { __authz_typename: __typename } }',
    'variables only removed fields used are not defined in the copy',
  ],
];
for (const [query, copied, what] of COPIES) {
  test(`the copy of ${query} is ${copied}: ${what}`, () => {
    const document = parse(query);
    assert.deepEqual(validate(schema, document, specifiedRules), []);
    const ctx = contextFor(document);
    authorize(ctx);
    const authorization = authorizationOf(ctx);
    assert.ok(authorization);
    assert.equal(print(authorization.document), print(parse(copied)));
    assert.deepEqual(validate(schema, authorization.document, specifiedRules), []);
    // The original is never changed.
    assert.equal(print(document), print(parse(query)));
  });
}

test('requests with the same document and verdicts share one copy and one plan key', () => {
  const document = parse('{ users { id email } }');
  const first = contextFor(document);
  const second = contextFor(document, caller(['other']));
  authorize(first);
  authorize(second);
  const a = authorizationOf(first);
  const b = authorizationOf(second);
  assert.ok(a && b);
  assert.equal(a.document, b.document);
  const hash = 'a'.repeat(64);
  assert.equal(a.queryHash(hash), b.queryHash(hash));
  assert.match(a.queryHash(hash), /^authz:[0-9a-f]{64}$/);
  assert.notEqual(a.queryHash(hash), a.queryHash('b'.repeat(64)));
});

test('copies that leave out different fields have different plan keys', () => {
  const document = parse('{ me { email badge { label } } }');
  const anonymous = contextFor(document);
  const verified = contextFor(document, caller());
  authorize(anonymous);
  authorize(verified);
  const hash = 'c'.repeat(64);
  assert.notEqual(
    authorizationOf(anonymous)?.queryHash(hash),
    authorizationOf(verified)?.queryHash(hash),
  );
});

test('a denied field is null at each of its concrete paths through nested lists', () => {
  const document = parse('{ grid { id friends { id badge { label } } } }');
  const ctx = contextFor(document);
  authorize(ctx);
  const authorization = authorizationOf(ctx);
  assert.ok(authorization);
  const result = authorization.complete({
    data: {
      grid: [
        [
          { id: 'u1', friends: [{ id: 'u2' }] },
          { id: 'u3', friends: [] },
        ],
        null,
        [{ id: 'u4', friends: [] }],
      ],
    },
  });
  // badge is nullable: a friend's badge is null, and nothing propagates; a null row stays null.
  assert.deepEqual(result.data, {
    grid: [
      [
        { id: 'u1', friends: [{ id: 'u2', badge: null }] },
        { id: 'u3', friends: [] },
      ],
      null,
      [{ id: 'u4', friends: [] }],
    ],
  });
  assert.deepEqual(
    result.errors?.map((e) => e.path),
    [['grid', 0, 0, 'friends', 0, 'badge']],
  );
});

test('a denied field of a non-null list item nulls the item’s list, not its siblings', () => {
  const nonNull = buildSchema(
    DIRECTIVES +
      'type Query { grid: [[Cell!]] } type Cell { id: ID! code: String! @authenticated }',
  );
  const sg = composeSupergraph([
    {
      name: 'only',
      url: 'http://only',
      sourceName: 'only',
      sdl: 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@authenticated"])\ntype Query { grid: [[Cell!]] } type Cell { id: ID! code: String! @authenticated }',
    },
  ]).supergraphSdl;
  const ctx = {
    snapshot: { authModel: buildAuthModel(sg, new Map()).model },
    operation: {
      document: parse('{ grid { id code } }'),
      name: undefined,
      variables: {},
      schema: nonNull,
    },
  } as unknown as RequestContext;
  authorize(ctx);
  const result = authorizationOf(ctx)!.complete({
    data: { grid: [[{ id: 'a' }, { id: 'b' }], [], null] },
  });
  // code is non-null, so each cell is null; a cell is non-null, so its row is null; rows are
  // nullable items of grid, so grid itself stands.
  assert.deepEqual(result.data, { grid: [null, [], null] });
  assert.deepEqual(
    result.errors?.map((e) => e.path),
    [
      ['grid', 0, 0, 'code'],
      ['grid', 0, 1, 'code'],
    ],
  );
});
