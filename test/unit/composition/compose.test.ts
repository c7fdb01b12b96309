import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeSupergraph, CompositionError } from '../../../src/composition/compose.ts';
import { toSupergraph } from '../../../src/composition/supergraph.ts';

const LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])';
const a = `${LINK}\ntype Query { a: Int }\ntype User @key(fields: "id") {\n  id: ID!\n  name: String\n}`;
const b = `${LINK}\ntype Query { b: Int }\ntype User @key(fields: "id") {\n  id: ID!\n  name: Int\n}`;

test('composes subgraphs into a supergraph that lists them with their routing URLs', () => {
  const { supergraphSdl } = composeSupergraph([
    { name: 'a', url: 'http://a.test/graphql', sdl: a, sourceName: 'a.graphql' },
    {
      name: 'b',
      url: 'http://b.test/graphql',
      sdl: b.replace('name: Int', 'age: Int'),
      sourceName: 'b.graphql',
    },
  ]);
  const supergraph = toSupergraph(supergraphSdl);
  assert.deepEqual(supergraph.subgraphs, [
    { name: 'a', url: 'http://a.test/graphql' },
    { name: 'b', url: 'http://b.test/graphql' },
  ]);
  assert.match(supergraph.hash, /^[0-9a-f]{64}$/);
});

test('a composition error carries its code and the file, line and subgraph of every location', () => {
  assert.throws(
    () =>
      composeSupergraph([
        { name: 'a', url: 'http://a.test', sdl: a, sourceName: 'schemas/a.graphql' },
        { name: 'b', url: 'http://b.test', sdl: b, sourceName: 'schemas/b.graphql' },
      ]),
    (error: unknown) => {
      assert.ok(error instanceof CompositionError);
      const mismatch = error.problems.find((p) => p.code === 'FIELD_TYPE_MISMATCH');
      assert.ok(mismatch, error.message);
      assert.match(mismatch.message, /"User\.name" is incompatible across subgraphs/);
      assert.deepEqual(mismatch.locations, [
        'schemas/a.graphql:5:3 (subgraph a)',
        'schemas/b.graphql:5:3 (subgraph b)',
      ]);
      assert.match(error.message, /^composition failed with \d+ errors:\n {2}FIELD_TYPE_MISMATCH/);
      return true;
    },
  );
});

test('a syntax error in a subgraph names the file, line and column', () => {
  assert.throws(
    () =>
      composeSupergraph([
        { name: 'a', url: 'http://a.test', sdl: 'type Query {\n  a: \n}', sourceName: 'a.graphql' },
      ]),
    (error: unknown) => {
      assert.ok(error instanceof CompositionError);
      assert.equal(error.problems[0]?.code, 'GRAPHQL_PARSE_FAILED');
      assert.deepEqual(error.problems[0]?.locations, ['a.graphql:3:1 (subgraph a)']);
      return true;
    },
  );
});

test('inline SDL locations count from the line where the SDL starts in the config file', () => {
  assert.throws(
    () =>
      composeSupergraph([
        {
          name: 'a',
          url: 'http://a.test',
          sdl: 'type Query {\n  a: \n}',
          sourceName: 'supergraph.yaml',
          firstLine: 10,
        },
      ]),
    (error: unknown) => {
      assert.ok(error instanceof CompositionError);
      assert.deepEqual(error.problems[0]?.locations, ['supergraph.yaml:12:1 (subgraph a)']);
      return true;
    },
  );
});

test('reading a schema that is not a supergraph says so', () => {
  assert.throws(
    () => toSupergraph('type Query { a: Int }'),
    /not a supergraph: it has no join__Graph enum/,
  );
});
