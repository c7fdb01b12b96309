import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliCompressSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import type { RedisClient } from '../../src/kernel/redis-reply.ts';
import type { CacheSignal } from '../../src/kernel/channels.ts';
import { RedisCacheStore } from '../../src/policies/cache/redis-store.ts';
import type { CacheEntry } from '../../src/policies/cache/store.ts';
import { createRedisClient } from '../../src/runtime/redis.ts';
import {
  OwnRedis,
  REDIS_URL,
  deleteKeys,
  freePort,
  redisSettings,
  testClient,
  uniquePrefix,
} from '../helpers/redis.ts';

const COMPRESS_ABOVE = 1_024;

function entry(overrides: Partial<CacheEntry> = {}): CacheEntry {
  return {
    cache: 'entity',
    type: 'Product',
    value: '{"upc":"1","name":"Table"}',
    storedAt: Date.now(),
    maxAge: 60,
    staleWhileRevalidate: 0,
    scope: 'PUBLIC',
    tags: [],
    ...overrides,
  };
}

/** A response's data as a subgraph might send it: `count` products, repetitive as JSON is. */
function products(count: number): string {
  const list = Array.from({ length: count }, (_, i) => ({
    upc: String(1_000 + i),
    name: `Product ${i}`,
    price: (i * 37) % 1_000,
    reviews: [{ id: String(i), body: `Review ${i}: would buy again` }],
  }));
  return JSON.stringify({ topProducts: list });
}

/** Resolves once the client is connected (it reconnects by itself, runtime/redis.ts). */
async function ready(client: RedisClient): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready');
}

/**
 * A store over a connection of its own (as each gateway instance has), keys under `prefix`,
 * started; the connection is closed when the test ends.
 */
async function open(t: TestContext, prefix: string, url = REDIS_URL) {
  const client = createRedisClient({ ...redisSettings(url, prefix), url });
  t.after(() => client.disconnect());
  const signals: CacheSignal[] = [];
  const store = new RedisCacheStore({
    redis: client,
    keyPrefix: prefix,
    commandTimeoutMs: 100,
    compressAbove: COMPRESS_ABOVE,
    onSignal: (signal) => signals.push(signal),
  });
  await store.start(1_000);
  return { store, client, signals };
}

describe('RedisCacheStore', () => {
  const prefix = uniquePrefix('cache-store');
  let redis: Redis;
  before(() => {
    redis = testClient();
  });
  after(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  test('entries written in one call are read back in one MGET, in the order asked, a miss where none is', async (t) => {
    const { store, client, signals } = await open(t, prefix);
    const product = entry({ tags: ['Product', 'Product:1'] });
    const response = entry({
      cache: 'response',
      type: 'Query',
      value: '{"me":{"name":"Ada Lovelace"}}',
      scope: 'PRIVATE',
      maxAge: 5,
      staleWhileRevalidate: 10,
    });
    await store.set([
      { key: 'round:e', entry: product },
      { key: 'round:r', entry: response },
    ]);
    let mgets = 0;
    const mgetBuffer = client.mgetBuffer.bind(client);
    client.mgetBuffer = ((...args: Parameters<typeof mgetBuffer>) => {
      mgets++;
      return mgetBuffer(...args);
    }) as typeof client.mgetBuffer;
    assert.deepEqual(await store.get(['round:r', 'round:none', 'round:e']), [
      response,
      undefined,
      product,
    ]);
    assert.equal(mgets, 1);
    assert.deepEqual(await store.get([]), []);
    assert.equal(mgets, 1, 'nothing asked, no round trip');
    assert.deepEqual(signals, [{ type: 'up', initial: true }]);
  });

  test('a value above compressAbove is stored compressed and read back whole; a small one is stored as it is', async (t) => {
    const { store } = await open(t, prefix);
    const large = entry({ cache: 'response', type: 'Query', value: products(200) });
    const small = entry();
    await store.set([
      { key: 'zip:large', entry: large },
      { key: 'zip:small', entry: small },
    ]);
    const stored = (await redis.getBuffer(`${prefix}cache:zip:large`))!;
    assert.ok(
      stored.length < Buffer.byteLength(large.value) / 4,
      `${stored.length} bytes stored for ${Buffer.byteLength(large.value)} of JSON`,
    );
    const plain = (await redis.getBuffer(`${prefix}cache:zip:small`))!;
    assert.ok(plain.includes(small.value), 'a small value is kept uncompressed');
    assert.deepEqual(await store.get(['zip:large', 'zip:small']), [large, small]);
  });

  test('an entry lives maxAge + stale-while-revalidate in Redis, its tag sets as long as their longest entry', async (t) => {
    const { store } = await open(t, prefix);
    await store.set([
      { key: 'ttl:short', entry: entry({ maxAge: 10, staleWhileRevalidate: 5, tags: ['ttl'] }) },
      { key: 'ttl:long', entry: entry({ maxAge: 100, tags: ['ttl', 'ttl-long'] }) },
    ]);
    const pttl = (key: string) => redis.pttl(`${prefix}${key}`);
    const within = (ms: number, max: number) => assert.ok(ms > max - 1_000 && ms <= max, `${ms}`);
    within(await pttl('cache:ttl:short'), 15_000);
    within(await pttl('cache:ttl:long'), 100_000);
    within(await pttl('cache-tag:ttl'), 100_000);
    // A later, shorter entry does not shorten the set; a longer one lengthens it.
    await store.set([{ key: 'ttl:other', entry: entry({ maxAge: 1, tags: ['ttl'] }) }]);
    within(await pttl('cache-tag:ttl'), 100_000);
    await store.set([{ key: 'ttl:longer', entry: entry({ maxAge: 200, tags: ['ttl'] }) }]);
    within(await pttl('cache-tag:ttl'), 200_000);
  });

  test('an invalidation through one instance removes what another wrote, counting the entries removed', async (t) => {
    const a = await open(t, prefix);
    const b = await open(t, prefix);
    await a.store.set([
      { key: 'inv:p1', entry: entry({ tags: ['inv:Product', 'inv:Product:1'] }) },
      { key: 'inv:p2', entry: entry({ tags: ['inv:Product', 'inv:Product:2'] }) },
      { key: 'inv:r1', entry: entry({ tags: ['inv:Review', 'inv:Product:1'] }) },
      { key: 'inv:u1', entry: entry({ tags: ['inv:User'] }) },
    ]);
    // p1 carries both tags: counted once.
    assert.equal(await b.store.invalidate(['inv:Product:1', 'inv:Product']), 3);
    const found = await a.store.get(['inv:p1', 'inv:p2', 'inv:r1', 'inv:u1']);
    assert.deepEqual(
      found.map((e) => e !== undefined),
      [false, false, false, true],
    );
    assert.equal(await redis.exists(`${prefix}cache-tag:inv:Product`), 0);
    assert.equal(await b.store.invalidate(['inv:Product:1']), 0);
  });

  test('an invalidation counts only entries still in Redis, and deletes nothing outside the cache', async (t) => {
    const { store } = await open(t, prefix);
    await store.set([
      { key: 'gone:a', entry: entry({ tags: ['gone'] }) },
      { key: 'gone:b', entry: entry({ tags: ['gone'] }) },
    ]);
    await redis.del(`${prefix}cache:gone:a`);
    // A member naming another key of the prefix: the script reads it as a cache key only.
    await redis.set(`${prefix}bystander`, 'kept');
    await redis.sadd(`${prefix}cache-tag:gone`, '../bystander', `${prefix}bystander`);
    assert.equal(await store.invalidate(['gone']), 1);
    assert.equal(await redis.get(`${prefix}bystander`), 'kept');
  });

  test('a fill lock is held across instances until its holder unlocks it, and no one else can unlock it', async (t) => {
    const a = await open(t, prefix);
    const b = await open(t, prefix);
    assert.equal(await a.store.lock('lock:1', 10_000), true);
    assert.equal(await b.store.lock('lock:1', 10_000), false);
    await b.store.unlock('lock:1');
    assert.equal(await b.store.lock('lock:1', 10_000), false);
    const pttl = await redis.pttl(`${prefix}cache-lock:lock:1`);
    assert.ok(pttl > 9_000 && pttl <= 10_000, `${pttl}`);
    await a.store.unlock('lock:1');
    assert.equal(await b.store.lock('lock:1', 10_000), true);
  });

  test('a fill lock frees itself at its ttl, and its late holder cannot unlock the next one', async (t) => {
    const a = await open(t, prefix);
    const b = await open(t, prefix);
    assert.equal(await a.store.lock('lock:2', 30), true);
    // Redis expires the key by its own clock: nothing to await but time.
    await sleep(60);
    assert.equal(await b.store.lock('lock:2', 10_000), true);
    await a.store.unlock('lock:2');
    assert.equal(await a.store.lock('lock:2', 10_000), false);
  });

  test('what is not an entry this store wrote whole is a miss, never an error', async (t) => {
    const { store, signals } = await open(t, prefix);
    await store.set([
      { key: 'bad:plain', entry: entry() },
      { key: 'bad:zip', entry: entry({ value: products(100) }) },
    ]);
    const plain = (await redis.getBuffer(`${prefix}cache:bad:plain`))!;
    const zip = (await redis.getBuffer(`${prefix}cache:bad:zip`))!;
    const garbage: Record<string, Buffer | string> = {
      'bad:text': 'not an entry',
      'bad:json': JSON.stringify(entry()),
      'bad:plain-cut': plain.subarray(0, plain.length - 3),
      'bad:zip-cut': zip.subarray(0, zip.length - 10),
      'bad:header': Buffer.concat([Buffer.of(0x7f), plain.subarray(1)]),
      'bad:meta': Buffer.concat([Buffer.of(plain[0]!), Buffer.from('{"cache":"entity"}\n{}')]),
      'bad:zip-garbage': Buffer.concat([Buffer.of(zip[0]!), brotliCompressSync('no newline')]),
    };
    for (const [key, value] of Object.entries(garbage))
      await redis.set(`${prefix}cache:${key}`, value);
    assert.deepEqual(
      await store.get(Object.keys(garbage)),
      Object.keys(garbage).map(() => undefined),
    );
    assert.deepEqual(signals, [{ type: 'up', initial: true }]);
  });
});

describe('RedisCacheStore when Redis goes away and comes back', () => {
  let own: OwnRedis;
  before(async () => {
    own = await OwnRedis.start();
  });
  after(() => own.kill());

  test('while Redis is stopped reads miss, writes drop, locks are granted and invalidations reject; once back it works again', async (t) => {
    const prefix = uniquePrefix('cache-outage');
    const { store, client, signals } = await open(t, prefix, own.url);
    await store.set([{ key: 'a', entry: entry({ tags: ['t'] }) }]);
    assert.equal((await store.get(['a']))[0]?.type, 'Product');

    await own.kill();
    assert.deepEqual(await store.get(['a', 'b']), [undefined, undefined]);
    await store.set([{ key: 'b', entry: entry() }]);
    assert.equal(await store.lock('a', 1_000), true);
    await store.unlock('a');
    await assert.rejects(store.invalidate(['t']));
    const transitions = signals.filter(
      (s): s is Extract<CacheSignal, { type: 'up' | 'down' }> =>
        s.type === 'up' || s.type === 'down',
    );
    assert.deepEqual(
      transitions.map(({ type, initial }) => ({ type, initial })),
      [
        { type: 'up', initial: true },
        { type: 'down', initial: false },
      ],
      'one transition, not one per command',
    );
    // The client's error, whatever its wording: the first command failed on the lost connection.
    assert.equal(typeof transitions[1]?.reason, 'string');
    assert.deepEqual(
      signals.filter((s) => s.type === 'fallback').map((s) => s.operation),
      ['get', 'set', 'lock', 'invalidate'],
    );

    // Redis back, empty (it saves nothing): the first command that gets through brings it up.
    await own.restart();
    await ready(client);
    await store.set([{ key: 'a', entry: entry({ tags: ['t'] }) }]);
    assert.deepEqual(signals.at(-1), { type: 'up', initial: false });
    assert.equal((await store.get(['a']))[0]?.type, 'Product');
    assert.equal(await store.invalidate(['t']), 1);
  });

  test('a store that cannot reach Redis at start starts down and answers without it', async (t) => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const client = createRedisClient({ ...redisSettings(url, 'unused:'), url });
    t.after(() => client.disconnect());
    const signals: CacheSignal[] = [];
    const store = new RedisCacheStore({
      redis: client,
      keyPrefix: uniquePrefix('cache-never'),
      commandTimeoutMs: 100,
      compressAbove: COMPRESS_ABOVE,
      onSignal: (signal) => signals.push(signal),
    });
    await store.start(100);
    assert.deepEqual(signals, [
      { type: 'down', initial: true, reason: 'not connected within 100 ms' },
    ]);
    assert.deepEqual(await store.get(['a']), [undefined]);
    assert.equal(await store.lock('a', 1_000), true);
    assert.equal(store.bytes(), undefined);
  });
});
