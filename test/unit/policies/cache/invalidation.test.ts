import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fills, within } from '../../../../src/policies/cache/fills.ts';
import {
  cacheControlHeader,
  freshness,
  stableJson,
} from '../../../../src/policies/cache/graph-cache.ts';
import { adminTags } from '../../../../src/policies/cache/invalidation.ts';
import type { CacheEntry } from '../../../../src/policies/cache/store.ts';

const adminCases: [string, unknown, string[] | RegExp][] = [
  ['a type', { types: ['Product'] }, ['type:Product']],
  [
    'a key takes the entity and the answers holding its type unkeyed',
    { keys: [{ type: 'Product', key: { id: 1 } }] },
    ['key:Product:{"id":"1"}', 'keyless:Product'],
  ],
  ['a declared tag', { tags: ['top'] }, ['tag:top']],
  ['a subgraph', { subgraphs: ['reviews'] }, ['subgraph:reviews']],
  ['several at once', { types: ['Review'], tags: ['top'] }, ['type:Review', 'tag:top']],
  ['not an object', ['Product'], /expected a JSON object/],
  ['an unknown field', { colours: ['red'] }, /unknown field colours/],
  ['a type that is not a string', { types: [1] }, /types must be a list of non-empty strings/],
  ['an empty name', { tags: [''] }, /tags must be a list of non-empty strings/],
  ['a key without its type', { keys: [{ key: { id: '1' } }] }, /keys\[0\] must be/],
  ['a key that is not an object', { keys: [{ type: 'Product', key: '1' }] }, /keys\[0\] must be/],
  ['nothing named', {}, /name at least one/],
];

for (const [name, body, expected] of adminCases)
  test(`the admin endpoint's body: ${name}`, () => {
    const tags = adminTags(body);
    if (expected instanceof RegExp) {
      assert.ok('problem' in tags, `accepted: ${JSON.stringify(tags)}`);
      assert.match(tags.problem, expected);
    } else assert.deepEqual(tags, expected);
  });

test('stableJson sorts object keys at every depth and keeps list order', () => {
  assert.equal(stableJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
  assert.equal(stableJson({ a: undefined, b: 'x' }), '{"b":"x"}');
});

const entry = (maxAge: number, staleWhileRevalidate: number): CacheEntry => ({
  cache: 'response',
  type: 'Query',
  value: '{}',
  storedAt: 0,
  maxAge,
  staleWhileRevalidate,
  scope: 'PUBLIC',
  tags: [],
});

test('an entry is fresh within its max-age, stale within stale-while-revalidate, then expired', () => {
  assert.equal(freshness(entry(10, 5), 9_999), 'fresh');
  assert.equal(freshness(entry(10, 5), 10_000), 'stale');
  assert.equal(freshness(entry(10, 5), 14_999), 'stale');
  assert.equal(freshness(entry(10, 5), 15_000), 'expired');
  assert.equal(freshness(entry(10, 0), 10_000), 'expired');
});

test('Cache-Control says no-store for what may not be kept, else max-age, scope and swr', () => {
  assert.equal(cacheControlHeader(undefined), 'no-store');
  assert.equal(
    cacheControlHeader({ maxAge: 0, scope: 'PUBLIC', staleWhileRevalidate: 9 }),
    'no-store',
  );
  assert.equal(
    cacheControlHeader({ maxAge: 30, scope: 'PRIVATE', staleWhileRevalidate: 0 }),
    'max-age=30, private',
  );
  assert.equal(
    cacheControlHeader({ maxAge: 30, scope: 'PUBLIC', staleWhileRevalidate: 60 }),
    'max-age=30, public, stale-while-revalidate=60',
  );
});

test('a fill in flight is joined by later misses, and settles once', async () => {
  const fills = new Fills();
  assert.equal(fills.join('k'), undefined);
  const settle = fills.begin('k');
  const joined = fills.join('k');
  assert.ok(joined);
  settle(entry(1, 0));
  settle(undefined);
  assert.deepEqual(await joined, entry(1, 0));
  assert.equal(fills.join('k'), undefined);
});

test('a wait on a fill gives up after its time and answers undefined', async () => {
  const never = new Promise<number>(() => {});
  assert.equal(await within(never, 5), undefined);
  assert.equal(await within(Promise.resolve(3), 5), 3);
  assert.equal(await within(Promise.resolve(3), 0), undefined);
});
