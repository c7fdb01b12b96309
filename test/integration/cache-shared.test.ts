// The cache shared through Redis by separate gateway processes, as behind a load balancer
// (docs/caching.md, "Stores"): what one instance stored the other serves, an invalidation made
// through either reaches both, and a Redis that dies mid-test leaves answers correct, uncached.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { post, startSubgraphs, writeProject } from '../helpers/env.ts';
import { BIN, startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.ts';
import { OwnRedis, uniquePrefix } from '../helpers/redis.ts';
import { productsSubgraph, reviewsSubgraph } from '../fixtures/graphs/catalog.ts';

const ADMIN_TOKEN = 'an-admin-token-for-the-shared-cache';

describe('two gateway processes sharing one Redis cache', () => {
  let redis: OwnRedis;
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateways: GatewayProcess[];

  before(async () => {
    // A Redis of the test's own: it is killed below.
    redis = await OwnRedis.start();
    subgraphs = await startSubgraphs([productsSubgraph(), reviewsSubgraph()]);
    project = await writeProject(subgraphs.servers, {
      cache: { enabled: true, store: 'redis' },
      redis: { url: redis.url, key_prefix: uniquePrefix('cache-shared'), command_timeout: '1s' },
      server: { admin: { token: ADMIN_TOKEN } },
      traffic: { dedup: { enabled: false } },
    });
    gateways = await Promise.all(
      [0, 1].map(() =>
        startGatewayProcess({
          command: process.execPath,
          args: [BIN, 'start', '--config', 'supergraph.yaml', '--port', '0'],
          cwd: project.dir,
        }),
      ),
    );
  });
  after(async () => {
    for (const gateway of gateways ?? []) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    await subgraphs?.close();
    await project?.remove();
    await redis?.kill();
  });

  const [a, b] = [0, 1];
  const query = (which: number, body: Record<string, unknown>) => post(gateways[which]!.url, body);
  const fetches = (field: string) =>
    subgraphs.byName('products').received.filter((r) => r.query.includes(field)).length;

  async function invalidate(which: number, body: unknown) {
    const response = await request(`${gateways[which]!.adminOrigin}/cache/invalidate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(body),
    });
    return { status: response.statusCode, json: (await response.body.json()) as any };
  }

  test('an answer one instance stored is a hit on the other', async () => {
    const body = { query: '{ topProducts { id name } }' };
    const miss = await query(a, body);
    assert.equal(miss.headers.age, undefined);
    const hit = await query(b, body);
    assert.deepEqual(hit.json, miss.json);
    assert.equal(hit.headers.age, '0');
    assert.equal(fetches('topProducts'), 1);
  });

  test('a mutation through one instance invalidates what the other serves', async () => {
    const read = { query: '{ product(id: "1") { id name } }' };
    await query(a, read);
    assert.equal((await query(b, read)).headers.age, '0');
    await query(a, { query: 'mutation { renameProduct(id: "1", name: "Oak table") { id name } }' });
    const fresh = await query(b, read);
    assert.equal(fresh.headers.age, undefined);
    assert.equal(fresh.json.data.product.name, 'Oak table');
  });

  test('the admin endpoint of one instance invalidates for both', async () => {
    const read = { query: '{ product(id: "2") { id price } }' };
    await query(b, read);
    assert.equal((await query(a, read)).headers.age, '0');
    const removed = await invalidate(b, { keys: [{ type: 'Product', key: { id: '2' } }] });
    assert.equal(removed.status, 200);
    assert.ok(removed.json.removed >= 1);
    assert.equal((await query(a, read)).headers.age, undefined);
  });

  test('concurrent misses of one key across both instances make one backend fetch (the fill lock)', async () => {
    // deals takes the subgraph 300 ms: every request below arrives while the first is in flight.
    const body = { query: '{ deals { id name } }' };
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => query(i % 2 === 0 ? a : b, body)),
    );
    for (const answer of answers) assert.equal(answer.json.data.deals.length, 2);
    assert.equal(fetches('deals'), 1);
  });

  test('with Redis stopped, answers stay correct and are served uncached; no error reaches the client', async () => {
    const body = { query: '{ product(id: "3") { id name } }' };
    await query(a, body);
    await redis.kill();
    const before = fetches('product(');
    for (const which of [a, b, a, b]) {
      const answer = await query(which, body);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { data: { product: { id: '3', name: 'Lamp' } } });
      assert.equal(answer.headers.age, undefined);
    }
    assert.equal(fetches('product(') - before, 4);
    const refused = await invalidate(a, { types: ['Product'] });
    assert.equal(refused.status, 503);
    assert.equal(refused.json.details[0].reason, 'CACHE_UNAVAILABLE');
  });
});
