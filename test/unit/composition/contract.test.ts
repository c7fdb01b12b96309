import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Supergraph } from '@apollo/federation-internals';
import { isInputObjectType, isObjectType, isEnumType, type GraphQLSchema } from 'graphql';
import { composeSupergraph } from '../../../src/composition/compose.ts';
import { buildContract, type ContractFilter } from '../../../src/composition/contract.ts';

const LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@tag"])';

const accounts = `${LINK}
type Query {
  me: User @tag(name: "public")
  users(role: Role): [User!]! @tag(name: "admin")
}
type Mutation { signIn(input: SignIn!): User @tag(name: "public") }
type User @key(fields: "id") {
  id: ID! @tag(name: "public")
  name: String! @tag(name: "public")
  email: String @tag(name: "private")
}
enum Role { ADMIN @tag(name: "internal") MEMBER }
input SignIn { name: String! otp: String @tag(name: "beta") }`;

const shop = `${LINK}
type Query {
  products(first: Int = 5, debug: Boolean @tag(name: "internal")): [Product!]! @tag(name: "public")
  product(upc: String! @tag(name: "public") @tag(name: "legacy")): Product @tag(name: "public")
  audit: [AuditEntry!]!
  ledger: [AuditEntry!]! @tag(name: "public")
}
type Product @key(fields: "upc") @tag(name: "public") { upc: String! name: String! cost: Int @tag(name: "internal") }
type AuditEntry @tag(name: "internal") { at: String! }
type User @key(fields: "id") { id: ID! orders: [Order!]! }
type Order { note: String @tag(name: "private") }`;

const { supergraphSdl } = composeSupergraph([
  {
    name: 'accounts',
    url: 'http://accounts.test/graphql',
    sdl: accounts,
    sourceName: 'accounts.graphql',
  },
  { name: 'shop', url: 'http://shop.test/graphql', sdl: shop, sourceName: 'shop.graphql' },
]);

/** The schema clients see: what Apollo Gateway derives from the contract supergraph. */
function apiSchemaOf(filter: ContractFilter): GraphQLSchema {
  const contract = buildContract(supergraphSdl, filter);
  assert.ok(contract.ok, JSON.stringify(!contract.ok && contract.problems));
  return Supergraph.build(contract.supergraphSdl).apiSchema().toGraphQLJSSchema();
}

function fieldsOf(schema: GraphQLSchema, type: string): string[] | undefined {
  const named = schema.getType(type);
  if (isObjectType(named) || isInputObjectType(named)) return Object.keys(named.getFields()).sort();
  if (isEnumType(named)) return named.getValues().map((v) => v.name);
  return undefined;
}

const cases: {
  name: string;
  filter: ContractFilter;
  expect: Record<string, string[] | undefined>;
  args?: Record<string, string[]>;
}[] = [
  {
    name: 'an excluded tag hides the fields, types, arguments and enum values it marks, and fields returning a hidden type',
    filter: { exclude: ['internal'] },
    expect: {
      Product: ['name', 'upc'],
      AuditEntry: undefined,
      // audit and ledger return AuditEntry, excluded as a type.
      Query: ['me', 'product', 'products', 'users'],
      Role: ['MEMBER'],
    },
    args: { 'Query.products': ['first'] },
  },
  {
    name: 'a type emptied by the filter goes, and so do the fields returning it',
    filter: { exclude: ['private'] },
    expect: { User: ['id', 'name'], Order: undefined },
  },
  {
    name: 'an include list keeps tagged fields (a type tag counts for its fields) and drops the rest',
    filter: { include: ['public'] },
    expect: {
      // ledger is tagged, but AuditEntry has no included field left, so it goes and ledger too.
      Query: ['me', 'product', 'products'],
      AuditEntry: undefined,
      Product: ['cost', 'name', 'upc'],
      User: ['id', 'name'],
      Order: undefined,
      Mutation: ['signIn'],
      // Include lists filter output fields and unions only: inputs and enums stay whole.
      SignIn: ['name', 'otp'],
      Role: ['ADMIN', 'MEMBER'],
    },
    // An argument with a tag of its own needs an included one; untagged ones follow their field.
    args: { 'Query.products': ['first'] },
  },
  {
    name: 'exclude wins over include on the same element',
    filter: { include: ['public'], exclude: ['internal'] },
    expect: { Product: ['name', 'upc'], Query: ['me', 'product', 'products'] },
  },
  {
    name: 'an excluded tag on an input field hides it',
    filter: { exclude: ['beta'] },
    expect: { SignIn: ['name'] },
  },
];

for (const c of cases) {
  test(c.name, () => {
    const schema = apiSchemaOf(c.filter);
    for (const [type, fields] of Object.entries(c.expect)) {
      assert.deepEqual(fieldsOf(schema, type), fields, type);
    }
    for (const [coordinate, args] of Object.entries(c.args ?? {})) {
      const [type, field] = coordinate.split('.') as [string, string];
      const owner = schema.getType(type);
      assert.ok(isObjectType(owner));
      assert.deepEqual(
        owner.getFields()[field]?.args.map((a) => a.name),
        args,
        coordinate,
      );
    }
  });
}

test('no filter leaves the API schema as the supergraph has it', () => {
  const full = Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema();
  const contract = apiSchemaOf({});
  assert.deepEqual(fieldsOf(contract, 'Query'), fieldsOf(full, 'Query'));
  assert.deepEqual(fieldsOf(contract, 'User'), ['email', 'id', 'name', 'orders']);
});

test('a required argument tagged out is reported like Apollo does, at its line in the supergraph', () => {
  const contract = buildContract(supergraphSdl, { exclude: ['legacy'] }, 'supergraph.graphql');
  assert.equal(contract.ok, false);
  const [problem] = contract.ok ? [] : contract.problems;
  assert.equal(problem?.code, 'REQUIRED_INACCESSIBLE');
  assert.match(problem?.message ?? '', /Query\.product\(upc:\)/);
  const [, line] = /^supergraph\.graphql:(\d+):\d+$/.exec(problem?.locations[0] ?? '') ?? [];
  // The directives are spliced in place, so the line is the supergraph's own.
  assert.match(supergraphSdl.split('\n')[Number(line) - 1] ?? '', /product\(upc: String!/);
});

test('a filter that hides every root query field is reported as an empty contract', () => {
  const contract = buildContract(supergraphSdl, { include: ['nothing-has-this'] });
  assert.equal(contract.ok, false);
  assert.deepEqual(contract.ok ? [] : contract.problems.map((p) => p.code), ['CONTRACT_EMPTY']);
  assert.match(contract.ok ? '' : (contract.problems[0]?.locations[0] ?? ''), /:\d+:1$/);
});

test('the contract links the inaccessible spec that Apollo Gateway honours, once', () => {
  assert.doesNotMatch(supergraphSdl, /inaccessible/);
  const contract = buildContract(supergraphSdl, { exclude: ['private'] });
  assert.ok(contract.ok);
  const links = contract.supergraphSdl.match(/specs\.apollo\.dev\/inaccessible\/v0\.2/g) ?? [];
  assert.equal(links.length, 1);
  assert.match(contract.supergraphSdl, /^directive @inaccessible on /m);
  // Built again from its own output, nothing is added twice.
  const again = buildContract(contract.supergraphSdl, { exclude: ['private'] });
  assert.ok(again.ok);
  assert.equal(again.supergraphSdl, contract.supergraphSdl);
  assert.deepEqual(contract.hidden, ['Order', 'Order.note', 'User.email', 'User.orders']);
});
