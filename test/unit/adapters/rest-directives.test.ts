import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, print, Source } from 'graphql';
import { readRestMapping } from '../../../src/adapters/rest/directives.ts';
import { ConfigError } from '../../../src/config/errors.ts';

const HEAD =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n';
const read = (sdl: string) =>
  readRestMapping(
    parse(new Source(HEAD + sdl, 'schemas/library.graphql')),
    'schemas/library.graphql',
  );

/** First line of the error for a mapping that must be refused. */
function refusal(sdl: string): string {
  try {
    read(sdl);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message.split('\n')[0] as string;
  }
  assert.fail('the mapping was accepted');
}

const cases: [string, string, string][] = [
  [
    'an unknown argument placeholder',
    'type Query { a(id: ID!): String @rest(get: "/a/{args.idd}") }',
    'schemas/library.graphql:2:44: Query.a: {args.idd}: Query.a has no argument "idd" (it has id)',
  ],
  [
    'an unknown input field',
    'input I { x: Int }\ntype Query { a(i: I): String @rest(post: "/a", body: "{args.i.y}") }',
    'schemas/library.graphql:3:54: Query.a: {args.i.y}: input I has no field "y"',
  ],
  [
    'an unknown parent field',
    'type T { id: ID! x: String @rest(get: "/t/{parent.nope}") }\ntype Query { t: T }',
    'schemas/library.graphql:2:39: T.x: {parent.nope}: type T has no field "nope"',
  ],
  [
    'a parent placeholder on a root field',
    'type Query { a: String @rest(get: "/{parent.id}") }',
    'schemas/library.graphql:2:35: Query.a: {parent.id}: root fields have no parent object',
  ],
  [
    'two methods',
    'type Query { a: String @rest(get: "/a", post: "/a") }',
    'schemas/library.graphql:2:24: Query.a: @rest needs exactly one of get, post, put, patch, delete',
  ],
  [
    'an unknown directive argument',
    'type Query { a: String @rest(get: "/a", retry: 3) }',
    'schemas/library.graphql:2:41: Query.a: @rest has no argument "retry"',
  ],
  [
    'a malformed placeholder',
    'type Query { a(id: ID!): String @rest(get: "/a/{id}") }',
    'schemas/library.graphql:2:44: Query.a: "{id}" is not a placeholder; write {args.name}, {parent.field}, {key.field} or {keys.field}',
  ],
  [
    'a body on GET',
    'type Query { a(id: ID!): String @rest(get: "/a", body: "{args.id}") }',
    'schemas/library.graphql:2:56: Query.a: a GET request has no body',
  ],
  [
    'an entity without @restEntity with a field nothing resolves',
    'type U @key(fields: "id") { id: ID! name: String }\ntype Query { u: U }',
    'schemas/library.graphql:2:37: U.name: U.name can never be resolved: U has no @restEntity, so a reference to it carries only its key (id) and @requires fields; give name a @rest or @restReference, mark it @external, or add @restEntity to U',
  ],
  [
    'an entity template on a non-key field',
    'type U @key(fields: "id") @restEntity(get: "/u", query: { n: "{keys.name}" }) { id: ID! name: String }\ntype Query { u: U }',
    'schemas/library.graphql:2:62: U: {keys.name}: "name" is not a key field of U (id)',
  ],
  [
    'an entity mixing key and keys',
    'type U @key(fields: "id") @restEntity(get: "/u/{key.id}", query: { ids: "{keys.id}" }) { id: ID! }\ntype Query { u: U }',
    'schemas/library.graphql:2:27: U: @restEntity uses either {key.*} (one call per key) or {keys.*} (one call per batch)',
  ],
  [
    'a maxBatch of 0',
    'type U @key(fields: "id") @restEntity(get: "/u", query: { ids: "{keys.id}" }, maxBatch: 0) { id: ID! }\ntype Query { u: U }',
    'schemas/library.graphql:2:89: U: maxBatch expects a positive integer',
  ],
  [
    'a concurrency that is not an integer',
    'type U @key(fields: "id") @restEntity(get: "/u/{key.id}", concurrency: "8") { id: ID! }\ntype Query { u: U }',
    'schemas/library.graphql:2:72: U: concurrency expects a positive integer',
  ],
  [
    'a header list entry without a value',
    'type Query { a: String @rest(get: "/a", headers: [{ name: "x-a" }]) }',
    'schemas/library.graphql:2:51: Query.a: headers entries are { name: "...", value: "..." }',
  ],
  [
    'a FORM body with a nested object',
    'type Query { a(x: String): String @rest(post: "/a", body: { o: { x: "{args.x}" } }, bodyType: FORM) }',
    'schemas/library.graphql:2:59: Query.a: a FORM body cannot nest objects: "o" is an object',
  ],
  [
    'a FORM body from an input object with an input object field',
    'input In { x: Int }\ninput Out { in: In }\ntype Query { a(o: Out): String @rest(post: "/a", body: "{args.o}", bodyType: FORM) }',
    'schemas/library.graphql:4:56: Query.a: a FORM body cannot nest objects: Out.in is an input object',
  ],
  [
    'a FORM body that is one scalar',
    'type Query { a(x: String): String @rest(post: "/a", body: "{args.x}", bodyType: FORM) }',
    'schemas/library.graphql:2:59: Query.a: a FORM body is an object ({ name: "{args.name}" }) or one {args.<input>} placeholder naming an input object',
  ],
  [
    'an unknown bodyType',
    'type Query { a(x: String): String @rest(post: "/a", body: { x: "{args.x}" }, bodyType: XML) }',
    'schemas/library.graphql:2:88: Query.a: bodyType expects JSON or FORM',
  ],
  [
    'a @restReference to a type that is no entity',
    'type P { id: ID! }\ntype O { pid: ID p: P @restReference(key: { id: "{parent.pid}" }) }\ntype Query { o: O }',
    'schemas/library.graphql:3:23: O.p: @restReference: P is not an entity of this SDL; declare it as a stub, type P @key(fields: "id", resolvable: false) { id: ID! }',
  ],
  [
    'a @restReference whose key is not a @key of the type',
    'type P @key(fields: "id", resolvable: false) { id: ID! }\ntype O { p: P @restReference(key: { sku: "{parent.sku}" }) }\ntype Query { o: O }',
    'schemas/library.graphql:3:35: O.p: @restReference key { sku } is not a @key of P ("id")',
  ],
  [
    'a @restReference template over the arguments',
    'type P @key(fields: "id", resolvable: false) { id: ID! }\ntype O { p(x: ID): P @restReference(key: { id: "{args.x}" }) }\ntype Query { o: O }',
    'schemas/library.graphql:3:48: O.p: {args.x}: @restReference templates use {parent.*}',
  ],
  [
    'a @restField path with an empty segment',
    'type U { a: String @restField(from: "x..y") }\ntype Query { u: U }',
    'schemas/library.graphql:2:20: U.a: @restField from: "x..y" is not a property name or a dotted path ("address.city")',
  ],
];
for (const [name, sdl, message] of cases) {
  test(`${name} is refused with the SDL file, line and column`, () => {
    assert.equal(refusal(sdl), message);
  });
}

test('every problem in the SDL is reported at once', () => {
  const sdl =
    'type Query {\n  a(id: ID!): String @rest(get: "/a/{args.x}")\n  b: String @rest(get: "/b", nope: 1)\n}';
  assert.throws(
    () => read(sdl),
    (error: ConfigError) => error.issues.length === 2,
  );
});

test('the adapter directives are stripped from what composition sees, and nothing else', () => {
  const mapping = read(
    'type U @key(fields: "id") @restEntity(get: "/u/{key.id}") { id: ID! name: String @restField(from: "n") }\ntype Query { u(id: ID!): U @rest(get: "/u/{args.id}") }',
  );
  const printed = print(mapping.document);
  assert.doesNotMatch(printed, /@rest/);
  assert.match(printed, /@key\(fields: "id"\)/);
  assert.deepEqual([...mapping.renames], [['U.name', 'n']]);
  assert.equal(mapping.entities.get('U')?.mode, 'key');
  assert.equal(mapping.fields.get('Query.u')?.label, 'GET /u/{args.id}');
});

test('an entity without @restEntity is resolved from its key: key, @external and @rest fields are enough', () => {
  const mapping = read(
    'type P @key(fields: "id") { id: ID! weight: Int @external reviews: [String!]! @rest(get: "/r", query: { p: "{parent.id}" }) }\ntype Query { x: String }',
  );
  assert.deepEqual([...mapping.keyOnly], ['P']);
  assert.equal(mapping.entities.size, 0);
});

test('@restReference reads its key from the parent, a list field zipping lists', () => {
  const mapping = read(
    'type P @key(fields: "id", resolvable: false) { id: ID! }\ntype O { p: P @restReference(key: { id: "{parent.pid}" }) ps: [P!]! @restReference(key: { id: "{parent.ids}" }) }\ntype Query { o: O }',
  );
  assert.equal(mapping.references.get('O.p')?.type, 'P');
  assert.equal(mapping.references.get('O.p')?.list, false);
  assert.equal(mapping.references.get('O.ps')?.list, true);
  assert.doesNotMatch(print(mapping.document), /restReference/);
});
