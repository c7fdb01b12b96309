import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CacheSignal } from '../../../../src/kernel/channels.ts';
import {
  ENTRY_OVERHEAD_BYTES,
  MemoryCacheStore,
} from '../../../../src/policies/cache/memory-store.ts';
import type { CacheEntry } from '../../../../src/policies/cache/store.ts';

const START = 1_700_000_000_000;

function fakeClock() {
  let now = START;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** An entity entry of `valueBytes` bytes (ASCII), stored at START. */
function entry(valueBytes: number, overrides: Partial<CacheEntry> = {}): CacheEntry {
  return {
    cache: 'entity',
    type: 'Product',
    value: 'x'.repeat(valueBytes),
    storedAt: START,
    maxAge: 60,
    staleWhileRevalidate: 0,
    scope: 'PUBLIC',
    tags: [],
    ...overrides,
  };
}

/** What an entry of key `key` (ASCII) and value `valueBytes` weighs, without tags. */
const weight = (key: string, valueBytes: number) => ENTRY_OVERHEAD_BYTES + key.length + valueBytes;

function open(maxBytes: number) {
  const clock = fakeClock();
  /** Evictions; the size reports after each change are in `sizes`. */
  const signals: CacheSignal[] = [];
  const sizes: CacheSignal[] = [];
  const store = new MemoryCacheStore({
    maxBytes,
    now: clock.now,
    onSignal: (signal) => (signal.type === 'size' ? sizes : signals).push(signal),
  });
  /** Which of `keys` the store holds now (a lookup refreshes them, in order). */
  const held = async (keys: string[]) =>
    (await store.get(keys)).flatMap((found, i) => (found ? [keys[i]] : []));
  return { store, clock, signals, sizes, held };
}

test('past maxBytes the least recently written entries go first, whatever their count', async () => {
  // Room for a (100) + b (300) + c (100) and no more: d (300) needs a and b gone.
  const { store, signals, held } = open(weight('a', 100) + weight('b', 300) + weight('c', 100));
  await store.set([
    { key: 'a', entry: entry(100) },
    { key: 'b', entry: entry(300, { type: 'Review' }) },
    { key: 'c', entry: entry(100) },
  ]);
  assert.deepEqual(signals, []);
  await store.set([{ key: 'd', entry: entry(300) }]);
  assert.deepEqual(signals, [
    { type: 'evict', cache: 'entity', entryType: 'Product', bytes: weight('a', 100) },
    { type: 'evict', cache: 'entity', entryType: 'Review', bytes: weight('b', 300) },
  ]);
  assert.deepEqual(await held(['a', 'b', 'c', 'd']), ['c', 'd']);
});

test('a hit makes an entry the most recently used', async () => {
  const { store, held } = open(3 * weight('a', 100));
  await store.set([
    { key: 'a', entry: entry(100) },
    { key: 'b', entry: entry(100) },
    { key: 'c', entry: entry(100) },
  ]);
  await store.get(['a']);
  await store.set([{ key: 'd', entry: entry(100) }]);
  assert.deepEqual(await held(['a', 'b', 'c', 'd']), ['a', 'c', 'd']);
});

test('an entry is served through maxAge and stale-while-revalidate, then it is gone without an eviction', async () => {
  const { store, clock, signals } = open(10_000);
  const stored = entry(10, { maxAge: 10, staleWhileRevalidate: 5 });
  await store.set([{ key: 'a', entry: stored }]);
  clock.advance(9_999);
  assert.deepEqual(await store.get(['a']), [stored]);
  // Past maxAge, within swr: still returned; the caller tells stale from storedAt and maxAge.
  clock.advance(5_000);
  assert.deepEqual(await store.get(['a']), [stored]);
  clock.advance(1);
  assert.deepEqual(await store.get(['a']), [undefined]);
  assert.deepEqual(store.bytes(), { response: 0, entity: 0 });
  assert.deepEqual(signals, []);
});

test('an expired entry met while making room is dropped without an eviction signal', async () => {
  const { store, clock, signals, held } = open(2 * weight('a', 100));
  await store.set([
    { key: 'a', entry: entry(100, { maxAge: 1 }) },
    { key: 'b', entry: entry(100) },
  ]);
  clock.advance(1_000);
  await store.set([{ key: 'c', entry: entry(100, { storedAt: START + 1_000 }) }]);
  assert.deepEqual(signals, []);
  assert.deepEqual(await held(['a', 'b', 'c']), ['b', 'c']);
});

test('an entry larger than the whole store is not kept, and the entries there stay', async () => {
  const { store, signals, held } = open(weight('a', 100) + 50);
  await store.set([{ key: 'a', entry: entry(100) }]);
  await store.set([{ key: 'big', entry: entry(200) }]);
  assert.deepEqual(await held(['a', 'big']), ['a']);
  assert.deepEqual(signals, []);
});

test('an invalidation by one tag removes exactly the entries carrying it', async () => {
  const { store, held } = open(100_000);
  await store.set([
    { key: 'p1', entry: entry(10, { tags: ['Product', 'Product:1'] }) },
    { key: 'p2', entry: entry(10, { tags: ['Product', 'Product:2'] }) },
    { key: 'r1', entry: entry(10, { tags: ['Review', 'Product:1'] }) },
    { key: 'u1', entry: entry(10, { tags: ['User'] }) },
  ]);
  assert.equal(await store.invalidate(['Product:1']), 2);
  assert.deepEqual(await held(['p1', 'p2', 'r1', 'u1']), ['p2', 'u1']);
  assert.equal(await store.invalidate(['Product:1']), 0);
});

test('an overwrite leaves the old tags behind: invalidating them finds nothing', async () => {
  const { store, held } = open(100_000);
  await store.set([{ key: 'a', entry: entry(10, { tags: ['old', 'both'] }) }]);
  await store.set([{ key: 'a', entry: entry(20, { tags: ['new', 'both'] }) }]);
  assert.equal(await store.invalidate(['old']), 0);
  assert.deepEqual(await held(['a']), ['a']);
  // Several tags of one entry count it once.
  assert.equal(await store.invalidate(['new', 'both']), 1);
  assert.deepEqual(await held(['a']), []);
});

test('an invalidation after an eviction counts only the entries still held', async () => {
  const { store, held } = open(2 * (weight('a', 100) + 'Product'.length));
  await store.set([
    { key: 'a', entry: entry(100, { tags: ['Product'] }) },
    { key: 'b', entry: entry(100, { tags: ['Product'] }) },
    { key: 'c', entry: entry(100, { tags: ['Product'] }) },
  ]);
  assert.deepEqual(await held(['b', 'c']), ['b', 'c']);
  assert.equal(await store.invalidate(['Product']), 2);
  assert.deepEqual(store.bytes(), { response: 0, entity: 0 });
});

test('a lock is refused to a second caller until it is unlocked', async () => {
  const { store } = open(1_000);
  assert.equal(await store.lock('a', 1_000), true);
  assert.equal(await store.lock('a', 1_000), false);
  assert.equal(await store.lock('b', 1_000), true);
  await store.unlock('a');
  assert.equal(await store.lock('a', 1_000), true);
});

test('a lock frees itself once its ttl has passed', async () => {
  const { store, clock } = open(1_000);
  assert.equal(await store.lock('a', 1_000), true);
  clock.advance(999);
  assert.equal(await store.lock('a', 1_000), false);
  clock.advance(1);
  assert.equal(await store.lock('a', 1_000), true);
});

test('bytes() counts each cache apart, tags included', async () => {
  const { store } = open(100_000);
  await store.set([
    { key: 'r', entry: entry(100, { cache: 'response', type: 'Query', tags: ['Product'] }) },
    { key: 'e1', entry: entry(10) },
    { key: 'e2', entry: entry(20, { value: 'é'.repeat(10) }) },
  ]);
  assert.deepEqual(store.bytes(), {
    response: weight('r', 100) + 'Product'.length,
    // 'é' is two bytes in UTF-8.
    entity: weight('e1', 10) + weight('e2', 20),
  });
  await store.set([{ key: 'e1', entry: entry(30) }]);
  assert.equal(store.bytes().entity, weight('e1', 30) + weight('e2', 20));
  await store.close();
  assert.deepEqual(store.bytes(), { response: 0, entity: 0 });
});

test('each write and each invalidation reports the bytes held per cache', async () => {
  const { store, sizes } = open(10_000);
  await store.set([{ key: 'a', entry: entry(100) }]);
  assert.deepEqual(sizes, [
    { type: 'size', cache: 'response', bytes: 0 },
    { type: 'size', cache: 'entity', bytes: weight('a', 100) },
  ]);
  sizes.length = 0;
  await store.invalidate(['nothing-tagged-so']);
  assert.deepEqual(sizes, []);
});
