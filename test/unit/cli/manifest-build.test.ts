import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema } from 'graphql';
import { buildManifest } from '../../../src/cli/manifest-build.ts';

const SCHEMA = buildSchema('type Query { me: User } type User { id: ID! name: String }');
const problems = (files: { file: string; text: string }[]) => {
  const built = buildManifest(files, SCHEMA);
  assert.ok('failures' in built, 'expected failures');
  return built.failures.map((f) => `${f.file}:${f.line}:${f.column} ${f.message}`);
};

test('a shared fragment that no longer validates is reported in its own file', () => {
  assert.deepEqual(
    problems([
      { file: 'a.graphql', text: 'query A { me { ...F } }' },
      { file: 'f.graphql', text: '\nfragment F on User { nickname }' },
    ]),
    [
      'f.graphql:2:22 operation A: Cannot query field "nickname" on type "User". Did you mean "name"?',
    ],
  );
});

test('unnamed and duplicate operations and unknown fragments are refused where they are', () => {
  assert.deepEqual(
    problems([
      { file: 'a.graphql', text: '{ me { id } }\nquery B { me { id } }' },
      { file: 'b.graphql', text: 'query B { me { ...Missing } }' },
    ]),
    [
      'a.graphql:1:1 operations must be named: the name identifies them in the manifest',
      'b.graphql:1:1 operation B is also defined in a.graphql',
    ],
  );
  assert.deepEqual(problems([{ file: 'c.graphql', text: 'query C { me { ...Missing } }' }]), [
    'c.graphql:1:1 operation C uses unknown fragment Missing',
  ]);
});
