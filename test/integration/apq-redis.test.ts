import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { RedisClient } from '../../src/kernel/redis-reply.ts';
import type { ApqStoreSignal } from '../../src/kernel/channels.ts';
import { ApqCache, SharedApqCache } from '../../src/gateway/apq-cache.ts';
import { createRedisClient } from '../../src/runtime/redis.ts';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { assertApqFlow, byHash, codeOf, sha256 } from '../helpers/apq.ts';
import {
  get,
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';
import {
  OwnRedis,
  REDIS_URL,
  deleteKeys,
  freePort,
  redisSettings,
  testClient,
  uniquePrefix,
} from '../helpers/redis.ts';

const PRODUCTS = 'query Products { topProducts { upc } }';
const ME = 'query Me { me { name } }';
/** Apollo Server's key for a document: its own `apq:` prefix, then the hash. */
const keyOf = (text: string) => `apq:${sha256(text)}`;
const TTL_MS = 60_000;

/** Resolves once the client is connected (it reconnects by itself, runtime/redis.ts). */
async function ready(client: RedisClient): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready');
}

/** Gateways over the same subgraphs, each its own process state, sharing `redis`. */
async function startGateways(
  count: number,
  redis: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  const subgraphs = await startSubgraphs(SHOP, 0);
  const project = await writeProject(subgraphs.servers, {
    redis,
    server: { apq_cache: { store: 'redis', ttl: '1m' } },
    ...extra,
  });
  const gateways: TestGateway[] = [];
  for (let i = 0; i < count; i++)
    gateways.push(await startTestGateway({ configFile: project.configFile }));
  return {
    gateways,
    close: async () => {
      await Promise.all(gateways.map((g) => g.close()));
      await subgraphs.close();
      await project.remove();
    },
  };
}

describe('APQ shared in Redis by two gateway instances', () => {
  const prefix = uniquePrefix('apq');
  let env: Awaited<ReturnType<typeof startGateways>>;
  let a: TestGateway;
  let b: TestGateway;
  let redis: Redis;
  before(async () => {
    redis = testClient();
    env = await startGateways(2, { url: REDIS_URL, key_prefix: prefix });
    [a, b] = env.gateways as [TestGateway, TestGateway];
  });
  after(async () => {
    await env.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  test('a miss, a registration kept in Redis with a TTL, then a hit; a mismatched hash is refused and stored nowhere', async () => {
    const data = (await assertApqFlow(a.url, PRODUCTS, ME)) as any;
    assert.equal(data.topProducts.length > 0, true);
    // Apollo Server registers without awaiting the store; the SET went out before the response
    // did, and a round trip of the test's own client comes after it on the server.
    const key = `${prefix}apq:${sha256(PRODUCTS)}`;
    assert.equal(await redis.get(key), PRODUCTS);
    const ttl = await redis.pttl(key);
    assert.ok(ttl > 0 && ttl <= TTL_MS, `ttl ${ttl}`);
    // ME came with PRODUCTS's hash: kept under its own hash it would be a document no client
    // registered, and under PRODUCTS's one it would answer for another document.
    assert.equal(await redis.exists(`${prefix}apq:${sha256(ME)}`), 0);
  });

  test('a document registered through one instance is a hit on the other', async () => {
    const hash = sha256(ME);
    const registered = await post(a.url, { query: ME, ...byHash(hash) });
    assert.deepEqual(registered.json.data, { me: { name: 'Ada Lovelace' } });
    const hit = await post(b.url, byHash(hash));
    assert.equal(hit.status, 200, hit.text);
    assert.deepEqual(hit.json.data, { me: { name: 'Ada Lovelace' } });
  });
});

test('the APQ store and the limit store share one connection, closed when the gateway stops', async (t) => {
  const own = await OwnRedis.start();
  t.after(() => own.kill());
  const check = testClient(own.url);
  t.after(() => check.disconnect());
  // Connections other than the test's own.
  const gatewayConnections = async () =>
    String(await check.client('LIST'))
      .trim()
      .split('\n').length - 1;
  const env = await startGateways(
    1,
    { url: own.url, key_prefix: uniquePrefix('apq-shared') },
    { limits: { store: { kind: 'redis' } } },
  );
  try {
    await assertApqFlow((env.gateways[0] as TestGateway).url, ME, PRODUCTS);
    assert.equal(await gatewayConnections(), 1);
  } finally {
    await env.close();
  }
  // The server sees the close a moment after the client sent it: nothing to await but its list.
  let left = await gatewayConnections();
  for (let i = 0; left > 0 && i < 20; i++) {
    await sleep(50);
    left = await gatewayConnections();
  }
  assert.equal(left, 0);
});

describe('APQ with Redis unreachable', () => {
  let env: Awaited<ReturnType<typeof startGateways>>;
  let gateway: TestGateway;
  before(async () => {
    // Nothing listens on the port: every command is refused at once (no offline queue).
    env = await startGateways(1, {
      url: `redis://127.0.0.1:${await freePort()}`,
      key_prefix: uniquePrefix('apq-down'),
      connect_timeout: '200ms',
    });
    gateway = env.gateways[0] as TestGateway;
  });
  after(() => env.close());

  test('APQ keeps working from the local cache, never a 5xx; one warning and a fallback metric', async () => {
    const hash = sha256(PRODUCTS);
    const miss = await post(gateway.url, byHash(hash));
    assert.equal(miss.status, 200);
    assert.equal(codeOf(miss.json), 'PERSISTED_QUERY_NOT_FOUND');
    const registered = await post(gateway.url, { query: PRODUCTS, ...byHash(hash) });
    assert.equal(registered.status, 200, registered.text);
    for (let i = 0; i < 3; i++) {
      const hit = await post(gateway.url, byHash(hash));
      assert.deepEqual(hit.json.data, registered.json.data);
    }
    const warnings = gateway.logs.lines.filter(
      (l) => l.level === 40 && String(l.msg).startsWith('APQ store unavailable'),
    );
    assert.equal(warnings.length, 1, gateway.logs.text());
    const metrics = await get(`${gateway.adminOrigin}/metrics`);
    assert.match(metrics.text, /^gateway_apq_store_up\{store="redis"\} 0$/m);
    // The miss's lookup and the registration went without Redis; the hits were local.
    assert.match(metrics.text, /^gateway_apq_store_fallbacks_total\{operation="get"\} 1$/m);
    assert.match(metrics.text, /^gateway_apq_store_fallbacks_total\{operation="set"\} 1$/m);
  });
});

describe('SharedApqCache', () => {
  const prefix = uniquePrefix('apq-cache');
  let redis: Redis;
  before(() => {
    redis = testClient();
  });
  after(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  /** A cache over a connected client, keys under `prefix` (each test its own documents). */
  async function open(url = REDIS_URL, options: { maxDocumentBytes?: number } = {}) {
    const client = createRedisClient({ ...redisSettings(url, prefix), url });
    await ready(client);
    const signals: ApqStoreSignal[] = [];
    const cache = new SharedApqCache({
      local: new ApqCache(1_000),
      redis: client,
      keyPrefix: prefix,
      commandTimeoutMs: 100,
      ttlMs: TTL_MS,
      maxDocumentBytes: options.maxDocumentBytes ?? 1_000,
      onSignal: (signal) => signals.push(signal),
    });
    return { cache, client, signals, close: () => client.disconnect() };
  }

  test('a document kept in Redis under a hash that is not its own is not served', async (t) => {
    const { cache, close } = await open();
    t.after(close);
    await redis.set(`${prefix}${keyOf(PRODUCTS)}`, ME);
    assert.equal(await cache.get(keyOf(PRODUCTS)), undefined);
  });

  test('a document over maxDocumentBytes is kept locally only', async (t) => {
    const { cache, close } = await open(REDIS_URL, { maxDocumentBytes: 10 });
    t.after(close);
    const long = 'query Long { topProducts { upc name } }';
    await cache.set(keyOf(long), long);
    assert.equal(await redis.exists(`${prefix}${keyOf(long)}`), 0);
    assert.equal(await cache.get(keyOf(long)), long);
  });

  test('a hit from Redis lands in the local cache: the next lookup costs no round trip', async (t) => {
    const { cache, close } = await open();
    t.after(close);
    await redis.set(`${prefix}${keyOf(ME)}`, ME);
    assert.equal(await cache.get(keyOf(ME)), ME);
    await redis.del(`${prefix}${keyOf(ME)}`);
    assert.equal(await cache.get(keyOf(ME)), ME);
  });

  test('while Redis is stopped registrations are kept locally; once it is back they are shared again', async (t) => {
    const own = await OwnRedis.start();
    t.after(() => own.kill());
    const { cache, client, signals, close } = await open(own.url);
    t.after(close);
    await cache.set(keyOf(ME), ME);
    await own.kill();
    await cache.set(keyOf(PRODUCTS), PRODUCTS);
    assert.equal(await cache.get(keyOf(PRODUCTS)), PRODUCTS);
    assert.equal(await cache.get(keyOf('{ unknown }')), undefined);
    assert.equal(cache.up, false);
    assert.deepEqual(
      signals.filter((s) => s.type !== 'fallback').map((s) => s.type),
      ['down'],
    );
    await own.restart();
    await ready(client);
    await cache.set(keyOf(PRODUCTS), PRODUCTS);
    assert.equal(cache.up, true);
    const check = testClient(own.url);
    t.after(() => check.disconnect());
    assert.equal(await check.get(`${prefix}${keyOf(PRODUCTS)}`), PRODUCTS);
  });
});
