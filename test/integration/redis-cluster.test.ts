import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { request } from 'undici';
import { productsSubgraph, reviewsSubgraph } from '../fixtures/graphs/catalog.ts';
import { byHash, sha256 } from '../helpers/apq.ts';
import {
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';
import { deleteKeys, OwnCluster, uniquePrefix } from '../helpers/redis.ts';

const LIMIT = 5;
const PASSWORD = 'cluster-s3cret';
const ADMIN_TOKEN = 'an-admin-token-for-the-cluster-test';

/**
 * A real Redis Cluster of three masters (the slots spread over them by `redis-cli --cluster
 * create`), every node with a password, and two gateways configured with `redis.cluster` naming
 * one node: every store the gateway keeps in Redis works there. Rate budgets are shared exactly
 * and spread over the masters (the identity is their hash tag); the cache's MGET, MULTI and
 * invalidation script run in its one slot (`{cache}`); APQ documents, one key each, land
 * wherever they hash.
 */
test('two gateways configured with redis.cluster share budgets, the cache (hit, invalidation by tag) and APQ on a three-master cluster', async (t) => {
  const cluster = await OwnCluster.start(3, PASSWORD);
  t.after(() => cluster.kill());
  const subgraphs = await startSubgraphs([productsSubgraph(), reviewsSubgraph()]);
  t.after(() => subgraphs.close());
  // No braces: the config refuses them in the prefix with a cluster; uniquePrefix has none.
  const prefix = uniquePrefix('cluster');
  const project = await writeProject(subgraphs.servers, {
    server: {
      // Callers named by X-Forwarded-For from loopback: a budget of its own per caller.
      trusted_proxies: ['127.0.0.1', '::1'],
      admin: { token: ADMIN_TOKEN },
      apq_cache: { store: 'redis', ttl: '1m' },
    },
    limits: {
      // `refuse`: a decision Redis could not make would be a 503, never a silent local one.
      store: { kind: 'redis', on_unavailable: 'refuse' },
      rate: { policies: [{ name: 'requests', limit: LIMIT, window: '60s' }] },
    },
    cache: { enabled: true, store: 'redis' },
    redis: {
      // One node is enough: the client reads the slot map from it and finds the others.
      cluster: { nodes: [cluster.addresses[0]], password: '${TEST_REDIS_PASSWORD}' },
      key_prefix: prefix,
      command_timeout: '1s',
    },
    traffic: { dedup: { enabled: false } },
  });
  t.after(() => project.remove());
  const gateways: TestGateway[] = [];
  for (let i = 0; i < 2; i++) {
    const gateway = await startTestGateway({
      configFile: project.configFile,
      env: { TEST_REDIS_PASSWORD: PASSWORD },
    });
    t.after(() => gateway.close());
    gateways.push(gateway);
  }
  for (const gateway of gateways) {
    await gateway.logs.find((l) => l.msg === 'limit store connected');
    await gateway.logs.find((l) => l.msg === 'cache store connected');
  }
  const check = new Cluster(
    cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    { redisOptions: { password: PASSWORD } },
  );
  t.after(async () => {
    await deleteKeys(check, prefix);
    check.disconnect();
  });
  /** The masters holding keys matching `pattern` (KEYS on each: the nodes are the test's own). */
  const holders = async (pattern: string) => {
    const found: number[] = [];
    for (const node of check.nodes('master'))
      if ((await node.keys(pattern)).length > 0) found.push(node.options.port!);
    return found;
  };

  let callers = 0;
  const caller = () => ({ 'x-forwarded-for': `198.51.100.${++callers}` });
  const query = (which: number, body: Record<string, unknown>) =>
    post(gateways[which]!.url, body, caller());

  // Rate budgets: one budget for both gateways, L of 2L admitted, for each of several callers.
  for (let i = 0; i < 4; i++) {
    const who = caller();
    const statuses: number[] = [];
    for (let j = 0; j < 2 * LIMIT; j++)
      statuses.push((await post(gateways[j % 2]!.url, { query: '{ deals { id } }' }, who)).status);
    assert.deepEqual(statuses, [...Array(LIMIT).fill(200), ...Array(LIMIT).fill(429)]);
  }
  // A few more callers, one request each: the budgets spread over the masters by identity.
  for (let i = 0; i < 8; i++)
    assert.equal((await query(i % 2, { query: '{ deals { id } }' })).status, 200);
  const budgetHolders = await holders(`${prefix}{*`);
  assert.ok(budgetHolders.length >= 2, `budgets on masters ${budgetHolders}`);

  // The cache: an answer stored through one gateway is a hit on the other, and all of the
  // cache's keys sit in the one slot of `{cache}`.
  const top = { query: '{ topProducts { id name } }' };
  const miss = await query(0, top);
  assert.equal(miss.status, 200, miss.text);
  assert.equal(miss.headers.age, undefined);
  const hit = await query(1, top);
  assert.deepEqual(hit.json, miss.json);
  assert.equal(hit.headers.age, '0');
  const fetches = () =>
    subgraphs.byName('products').received.filter((r) => r.query.includes('topProducts')).length;
  assert.equal(fetches(), 1);
  assert.equal((await holders(`${prefix}{cache}:*`)).length, 1, 'the cache is in one slot');

  // Invalidation by the declared tag `top`, through the other gateway's admin endpoint: the
  // script reads the tag set and deletes the entries, all in the cache's slot.
  const invalidated = await request(`${gateways[1]!.adminOrigin}/cache/invalidate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ tags: ['top'] }),
  });
  const removed = (await invalidated.body.json()) as { removed?: number };
  assert.equal(invalidated.statusCode, 200, JSON.stringify(removed));
  assert.ok((removed.removed ?? 0) >= 1, JSON.stringify(removed));
  const after = await query(0, top);
  assert.equal(after.headers.age, undefined, 'a miss after the invalidation');
  assert.equal(fetches(), 2);

  // APQ: a document registered through one gateway is found by its hash through the other.
  const document = '{ product(id: "1") { id name } }';
  const hash = sha256(document);
  const registered = await query(0, { query: document, ...byHash(hash) });
  assert.equal(registered.status, 200, registered.text);
  const found = await query(1, byHash(hash));
  assert.equal(found.status, 200, found.text);
  assert.deepEqual(found.json.data, registered.json.data);
  assert.equal(await check.get(`${prefix}apq:${hash}`), document);

  for (const gateway of gateways) assert.doesNotMatch(gateway.logs.text(), new RegExp(PASSWORD));
});
