// Three gateway processes behind HAProxy, one Redis, the demo backends (demo/cluster/): what
// instances share, and what an operator's rolling restart and a crash cost the clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type RunningCluster } from '../../demo/cluster/cluster.ts';
import { deleteKeys, REDIS_URL, testClient, uniquePrefix } from '../helpers/redis.ts';

/** Not cached (users and orders carry no hint): each one reaches the REST and gRPC backends. */
const UNCACHED = '{ user(id: "1") { id name orders { id } } }';

function post(url: string, query: string, headers: Record<string, string> = {}) {
  return fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
}

function get(url: string, query: string) {
  return fetch(`${url}/graphql?query=${encodeURIComponent(query)}`, {
    headers: { 'apollo-require-preflight': 'true' },
  });
}

/** Counts from a Prometheus text exposition: the sum of a series' samples whose labels match. */
function metric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

interface LoadResult {
  readonly ok: { GET: number; POST: number };
  readonly failed: { GET: string[]; POST: string[] };
  /** Requests in flight when `mark` was called, by method. */
  readonly inFlightAtMark: { GET: number; POST: number };
}

/**
 * Keeps `connections` loops of requests going through the balancer (half GET, half POST) until
 * stopped; every answer must be a 200 with the user's data, anything else is a failure.
 */
function load(url: string, connections: number) {
  const ok = { GET: 0, POST: 0 };
  const failed = { GET: [] as string[], POST: [] as string[] };
  const inFlight = { GET: 0, POST: 0 };
  const inFlightAtMark = { GET: 0, POST: 0 };
  let running = true;
  const loops = Array.from({ length: connections }, async (_, i) => {
    const method = i % 2 === 0 ? 'GET' : 'POST';
    while (running) {
      inFlight[method]++;
      try {
        const response = await (method === 'GET' ? get(url, UNCACHED) : post(url, UNCACHED));
        const body = await response.text();
        if (response.status === 200 && body.includes('"orders"')) ok[method]++;
        else failed[method].push(`${response.status} ${body.slice(0, 200)}`);
      } catch (error) {
        failed[method].push(String((error as Error).cause ?? error));
      } finally {
        inFlight[method]--;
      }
    }
  });
  return {
    mark() {
      Object.assign(inFlightAtMark, inFlight);
    },
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.all(loops);
      return { ok, failed, inFlightAtMark };
    },
  };
}

test('three instances behind HAProxy share budgets, the cache and the config, and survive a crash and a rolling restart', async (t) => {
  const keysDir = await mkdtemp(join(tmpdir(), 'cluster-keys-'));
  t.after(() => rm(keysDir, { recursive: true, force: true }));
  let productCalls = 0;
  const keyPrefix = uniquePrefix('cluster');
  const cluster: RunningCluster = await startCluster({
    redisUrl: REDIS_URL,
    keyPrefix,
    keysDir,
    trialLimit: 12,
    ...(process.env.HAPROXY_PATH ? { haproxy: process.env.HAPROXY_PATH } : {}),
    backendHooks: { onProductsRequest: () => productCalls++ },
  });
  t.after(async () => {
    await cluster.close();
    const redis = testClient();
    await deleteKeys(redis, keyPrefix);
    redis.disconnect();
  });

  await t.test('a rate budget is shared: at most L admitted across the three', async () => {
    const before = await cluster.haproxy.stats();
    const statuses: number[] = [];
    // Three times the limit, a few at a time, round-robin over the three instances.
    for (let round = 0; round < 12; round++) {
      const answers = await Promise.all(
        Array.from({ length: 3 }, () =>
          post(cluster.url, '{ products { id } }', { 'x-api-key': cluster.trialKey }),
        ),
      );
      for (const answer of answers) {
        statuses.push(answer.status);
        await answer.arrayBuffer();
      }
    }
    const after = await cluster.haproxy.stats();
    const admitted = statuses.filter((status) => status === 200).length;
    assert.equal(admitted, cluster.trialLimit, `admitted ${admitted} of ${statuses.length}`);
    assert.equal(statuses.filter((status) => status === 429).length, 36 - cluster.trialLimit);
    for (const instance of cluster.instances) {
      const served = after.get(instance.name)!.responses - before.get(instance.name)!.responses;
      // Each one alone would have admitted up to L: together they admitted L.
      assert.ok(served >= 10, `${instance.name} took ${served} of the 36`);
    }
  });

  await t.test('an answer cached by one instance is served by the others', async () => {
    // A query text no other test sends: its own cache key.
    const query = `{ catalogue${Date.now()}: products { id name } }`;
    const [first, ...others] = cluster.instances;
    const calls = productCalls;
    const miss = await post(first!.origin, query);
    assert.equal(miss.status, 200);
    const missBody = await miss.text();
    assert.equal(productCalls, calls + 1, 'the first instance fetched from the products subgraph');
    for (const instance of others) {
      const hit = await post(instance.origin, query);
      assert.equal(hit.status, 200);
      assert.equal(await hit.text(), missBody);
      assert.ok(hit.headers.get('age') !== null, `${instance.name} answers from the cache (Age)`);
      const metrics = await (await fetch(`${instance.adminOrigin}/metrics`)).text();
      assert.ok(
        metric(metrics, 'gateway_cache_lookups_total', { cache: 'response', result: 'hit' }) >= 1,
        `${instance.name} counts a response-cache hit`,
      );
    }
    assert.equal(productCalls, calls + 1, 'no other instance called the products subgraph');
  });

  await t.test('SIGKILL under load loses only what was in flight on it, and no GET', async () => {
    const traffic = load(cluster.url, 8);
    await sleep(1_000);
    traffic.mark();
    await cluster.kill('gateway-2');
    await sleep(2_000);
    const result = await traffic.stop();
    assert.deepEqual(result.failed.GET, [], 'idempotent requests are retried by the balancer');
    assert.ok(
      result.failed.POST.length <= result.inFlightAtMark.POST,
      `POST failures ${result.failed.POST.length} (${result.failed.POST.join('; ')}) exceed the ${result.inFlightAtMark.POST} in flight at the kill`,
    );
    assert.ok(result.ok.GET > 20 && result.ok.POST > 20, `served ${JSON.stringify(result.ok)}`);
    const stats = await cluster.haproxy.stats();
    assert.match(stats.get('gateway-2')!.status, /DOWN/);
    t.diagnostic(
      `kill: ${JSON.stringify(result.ok)} served, ${result.failed.POST.length} POST lost of ${result.inFlightAtMark.POST} in flight, ${stats.get('gateway-2')!.redispatches} redispatched`,
    );
    await cluster.start('gateway-2');
    await cluster.waitUntilBalanced();
  });

  await t.test(
    'a rolling restart (SIGTERM one at a time) under load fails no request',
    async () => {
      const traffic = load(cluster.url, 8);
      await sleep(500);
      for (const { name } of cluster.instances) {
        assert.equal(await cluster.stop(name), 0, `${name} drained and exited 0`);
        await cluster.start(name);
        await cluster.waitUntilBalanced();
      }
      await sleep(500);
      const result = await traffic.stop();
      assert.deepEqual(result.failed, { GET: [], POST: [] });
      assert.ok(result.ok.GET > 20 && result.ok.POST > 20, `served ${JSON.stringify(result.ok)}`);
      t.diagnostic(`rolling restart: ${JSON.stringify(result.ok)} served, none failed`);
    },
  );

  await t.test('a config change reaches every instance', async () => {
    const text = await readFile(cluster.configFile, 'utf8');
    assert.ok(text.includes('limit: 1000000'));
    await writeFile(cluster.configFile, text.replace('limit: 1000000', 'limit: 999999'));
    const deadline = Date.now() + 15_000;
    for (const instance of cluster.instances) {
      for (;;) {
        const answer = await post(instance.origin, '{ products { id } }');
        await answer.arrayBuffer();
        if (answer.headers.get('ratelimit-policy')?.includes('q=999999')) break;
        assert.ok(Date.now() < deadline, `${instance.name} did not reload the changed config`);
        await sleep(100);
      }
    }
  });
});
