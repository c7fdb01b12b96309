import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkResolvers } from '../../../src/config/bff-module.ts';

const SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { home: Home }
type Home { viewer: Viewer }
type Viewer @key(fields: "id") { id: ID! }
extend type Viewer { email: String }
enum Tone { LIGHT DARK }
`;

const fn = () => null;

test('a resolver map matching the SDL has no problems, extensions and entity references included', () => {
  assert.deepEqual(
    checkResolvers(
      {
        Query: { home: fn },
        Home: { viewer: fn },
        Viewer: { __resolveReference: fn, email: fn },
        Tone: { LIGHT: 'light' },
      },
      SDL,
    ),
    [],
  );
});

test('an unknown type, an unknown field and a root field without a resolver are each reported', () => {
  assert.deepEqual(checkResolvers({ Home: { viewr: fn }, Hme: {} }, SDL), [
    'resolvers.Home.viewr: Home has no field viewr',
    'resolvers.Hme: the schema has no type Hme',
    'resolvers.Query.home: missing (the field could only be null)',
  ]);
});
