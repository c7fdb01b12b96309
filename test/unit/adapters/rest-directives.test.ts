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
