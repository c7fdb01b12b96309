import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { get, post, startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';
import { mappingSource, startMappingServer } from '../fixtures/protos/mapping-server.ts';

/**
 * Balancing, retries and outlier detection over real replicas of one subgraph on loopback: a
 * replica answers GraphQL with its own name, and fails, stalls, dies or flips its health check
 * when a test says so. Every count is made at the replicas, where calls really arrive.
 */

type Mode = 'ok' | '500' | '503' | 'slow503' | 'every-other-500';

interface Replica {
  readonly name: string;
  readonly address: string;
  /** GraphQL requests that reached it (health checks apart). */
  hits: number;
  mutations: number;
  mode: Mode;
  healthy: boolean;
  kill(): void;
  close(): Promise<void>;
}

async function startReplica(name: string): Promise<Replica> {
  let served = 0;
  const replica: Replica = {
    name,
    address: '',
    hits: 0,
    mutations: 0,
    mode: 'ok',
    healthy: true,
    kill: () => {
      server.closeAllConnections();
      server.close();
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        if (!server.listening) resolve();
      }),
  };
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.url === '/health') {
      res.writeHead(replica.healthy ? 200 : 503).end();
      return;
    }
    replica.hits++;
    const mutation = body.includes('mutation');
    if (mutation) replica.mutations++;
    const fail =
      replica.mode === '500' ||
      replica.mode === '503' ||
      replica.mode === 'slow503' ||
      (replica.mode === 'every-other-500' && served++ % 2 === 0);
    if (replica.mode === 'slow503') await sleep(150);
    if (fail) {
      res.writeHead(replica.mode.endsWith('503') ? 503 : 500).end('unwell');
      return;
    }
    // Hold the answer a moment, so concurrent calls overlap and a kill finds calls in flight.
    await sleep(5);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ data: mutation ? { bump: name } : { hello: name } }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  (replica as { address: string }).address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return replica;
}

const SDL = 'type Query { hello: String } type Mutation { bump: String }';

/** A gateway over one subgraph served by `replicas`, with `traffic` settings, on a test clock. */
async function startOver(
  replicas: readonly Replica[],
  traffic: Record<string, unknown>,
  clock?: { ms: number },
) {
  const project = await writeProject([]);
  await project.write(
    'supergraph.yaml',
    stringify({
      subgraphs: {
        replicated: {
          routing_url: `http://${replicas[0]!.address}/graphql`,
          instances: replicas.map((r) => r.address),
          schema: { sdl: SDL },
          // Every call reaches a replica: the counts are the point.
          dedup: false,
        },
      },
      traffic,
    }),
  );
  const gateway = await startTestGateway({
    configFile: project.configFile,
    ...(clock ? { clock: { now: () => clock.ms } } : {}),
  });
  return {
    gateway,
    close: async () => {
      await gateway.close();
      await project.remove();
    },
  };
}

/** The suite's replicas, started once and reset after each test, whose gateway `env` closes. */
function withReplicas(names: string[]) {
  const suite: { replicas: Replica[]; env?: Awaited<ReturnType<typeof startOver>> } = {
    replicas: [],
  };
  before(async () => {
    suite.replicas = await Promise.all(names.map(startReplica));
  });
  after(() => Promise.all(suite.replicas.map((r) => r.close())));
  afterEach(async () => {
    await suite.env?.close();
    delete suite.env;
    for (const r of suite.replicas) {
      r.hits = 0;
      r.mutations = 0;
      r.mode = 'ok';
      r.healthy = true;
    }
  });
  return suite;
}

const hello = (gateway: TestGateway) => post(gateway.url, { query: '{ hello }' });
const bump = (gateway: TestGateway) => post(gateway.url, { query: 'mutation { bump }' });
const codeOf = (result: { json: any }) => result.json.errors?.[0]?.extensions?.code;

describe('balancing over suite.replicas', () => {
  const suite = withReplicas(['a', 'b', 'c']);

  test('round robin: every replica gets its turn', async () => {
    suite.env = await startOver(suite.replicas, {});
    const names = [];
    for (let i = 0; i < 9; i++) names.push((await hello(suite.env!.gateway)).json.data.hello);
    assert.deepEqual(
      suite.replicas.map((r) => r.hits),
      [3, 3, 3],
    );
    assert.equal(new Set(names.slice(0, 3)).size, 3, 'three in a row: three suite.replicas');
  });

  test('least_loaded: a replica that answers slowly gets fewer of the concurrent calls', async () => {
    suite.env = await startOver(suite.replicas, { balance: 'least_loaded' });
    suite.replicas[0]!.mode = 'slow503';
    try {
      // The slow replica's calls pile up in flight; the power of two choices steers around it.
      await Promise.all(Array.from({ length: 60 }, () => hello(suite.env!.gateway)));
      assert.ok(
        suite.replicas[0]!.hits < suite.replicas[1]!.hits &&
          suite.replicas[0]!.hits < suite.replicas[2]!.hits,
        `hits ${suite.replicas.map((r) => r.hits).join('/')}`,
      );
    } finally {
      suite.replicas[0]!.mode = 'ok';
    }
  });

  test('/readyz shows every instance of every backend with its state', async () => {
    suite.env = await startOver(suite.replicas, {});
    const ready = await get(`${suite.env!.gateway.adminOrigin}/readyz`);
    assert.deepEqual(
      ready.json.backends.replicated.instances.map((i: any) => [i.address, i.state]),
      suite.replicas.map((r) => [r.address, 'healthy']),
    );
  });
});

describe('retries', () => {
  const suite = withReplicas(['a', 'b']);

  test('a query answered 503 by one replica is retried on the other; the log line says so', async () => {
    suite.env = await startOver(suite.replicas, { outlier_detection: { enabled: false } });
    suite.replicas[0]!.mode = '503';
    for (let i = 0; i < 6; i++)
      assert.deepEqual((await hello(suite.env!.gateway)).json, { data: { hello: 'b' } });
    assert.equal(suite.replicas[0]!.hits, 3, 'round robin sent every other first attempt to a');
    assert.equal(suite.replicas[1]!.hits, 6);
    const line = suite.env!.gateway.logs.lines.findLast((l) => l.msg === 'request') as any;
    const retried = suite.env!.gateway.logs.lines.filter(
      (l: any) => l.msg === 'request' && l.retries,
    );
    assert.equal(retried.length, 3);
    assert.ok(line);
    const metrics = (await get(`${suite.env!.gateway.adminOrigin}/metrics`)).text;
    assert.match(
      metrics,
      /gateway_backend_retries_total\{backend="replicated",reason="status"\} 3/,
    );
  });

  test('a mutation answered 503 is never retried: one call, and its error', async () => {
    suite.env = await startOver(suite.replicas, { outlier_detection: { enabled: false } });
    suite.replicas[0]!.mode = '503';
    suite.replicas[1]!.mode = '503';
    const result = await bump(suite.env!.gateway);
    assert.equal(codeOf(result), 'UPSTREAM_ERROR');
    assert.equal(suite.replicas[0]!.mutations + suite.replicas[1]!.mutations, 1);
  });

  test('a 500 is an answer about the request, not a reason to retry', async () => {
    suite.env = await startOver(suite.replicas, { outlier_detection: { enabled: false } });
    suite.replicas[0]!.mode = '500';
    suite.replicas[1]!.mode = '500';
    await hello(suite.env!.gateway);
    assert.equal(suite.replicas[0]!.hits + suite.replicas[1]!.hits, 1);
  });

  test('retries stay within the retry budget when every replica fails', async () => {
    suite.env = await startOver(suite.replicas, {
      outlier_detection: { enabled: false },
      retries: { max_retries: 2, budget_percent: 20, min_retry_concurrency: 3 },
    });
    suite.replicas[0]!.mode = 'slow503';
    suite.replicas[1]!.mode = 'slow503';
    const N = 50;
    await Promise.all(Array.from({ length: N }, () => hello(suite.env!.gateway)));
    const calls = suite.replicas[0]!.hits + suite.replicas[1]!.hits;
    // Unbudgeted, every query would be tried three times: 150 calls. The budget allows about
    // 20% of the 50 in flight (10) as retries at once, and the failures come back together.
    assert.ok(calls > N, 'some retries were made');
    assert.ok(calls <= N + 2 * 10, `${calls} calls for ${N} queries`);
    const metrics = (await get(`${suite.env!.gateway.adminOrigin}/metrics`)).text;
    assert.match(metrics, /gateway_backend_retries_refused_total\{backend="replicated"\} [1-9]/);
  });

  test('one of two suite.replicas killed under load: every query is answered, no mutation lost beyond those in flight', async () => {
    // The calls in flight on the replica fail at once when it dies: the budget's floor covers
    // them (with Envoy's default of 3, all but 3 of them would fail).
    suite.env = await startOver(suite.replicas, { retries: { min_retry_concurrency: 16 } });
    const results: number[] = [];
    let mutationsFailed = 0;
    let sent = 0;
    const worker = async () => {
      while (sent < 300) {
        sent++;
        const answer = await hello(suite.env!.gateway);
        results.push(answer.json.data?.hello ? 1 : 0);
        if (sent === 100) suite.replicas[0]!.kill();
      }
    };
    const writer = async () => {
      while (sent < 300) if (!(await bump(suite.env!.gateway)).json.data?.bump) mutationsFailed++;
    };
    await Promise.all([
      ...Array.from({ length: 10 }, worker),
      ...Array.from({ length: 4 }, writer),
    ]);
    assert.equal(results.length, 300);
    assert.equal(results.filter((ok) => ok === 0).length, 0, 'no failed query');
    // A mutation in flight on the dying replica may have been applied: it fails, never resent.
    // One sent after the kill is refused before it leaves, and goes to the survivor.
    assert.ok(mutationsFailed <= 4, `${mutationsFailed} mutations failed; 4 were in flight`);
    assert.ok(suite.replicas[1]!.hits >= 200, 'the survivor took the traffic');
    const ready = await get(`${suite.env!.gateway.adminOrigin}/readyz`);
    const killed = ready.json.backends.replicated.instances.find(
      (i: any) => i.address === suite.replicas[0]!.address,
    );
    assert.equal(killed.state, 'ejected', 'the dead replica was ejected');
    // Start it again for the other tests' sake.
    suite.replicas[0] = await startReplica('a');
  });
});

describe('outlier detection over two suite.replicas', () => {
  const suite = withReplicas(['a', 'b']);

  test('a 100%-failing replica is ejected after 5, re-admitted, and ejected longer the second time', async () => {
    const clock = { ms: 0 };
    suite.env = await startOver(
      suite.replicas,
      { outlier_detection: { base_ejection_time: '10s' }, retries: { enabled: false } },
      clock,
    );
    suite.replicas[0]!.mode = '500';
    for (let i = 0; i < 10; i++) await hello(suite.env!.gateway);
    assert.equal(suite.replicas[0]!.hits, 5, 'five failures, then no more calls');
    const before = suite.replicas[1]!.hits;
    for (let i = 0; i < 10; i++)
      assert.deepEqual((await hello(suite.env!.gateway)).json, { data: { hello: 'b' } });
    assert.equal(suite.replicas[1]!.hits, before + 10);

    clock.ms += 10_000;
    for (let i = 0; i < 10; i++) await hello(suite.env!.gateway);
    assert.equal(suite.replicas[0]!.hits, 10, 're-admitted, failed five more times, ejected again');
    const ejections = suite.env!.gateway.logs.lines.filter(
      (l: any) => l.msg === 'backend instance ejected',
    ) as any[];
    assert.deepEqual(
      ejections.map((e) => e.forMs),
      [10_000, 20_000],
    );
    clock.ms += 10_000;
    for (let i = 0; i < 4; i++) await hello(suite.env!.gateway);
    assert.equal(suite.replicas[0]!.hits, 10, 'still out after 10 s of its 20');
    suite.replicas[0]!.mode = 'ok';
  });

  test('a replica failing every other call is ejected by its failure rate', async () => {
    // A window far longer than the test: on a loaded machine sixty calls can outlast 10 s, and
    // a window that rolls over mid-test starts the count again.
    suite.env = await startOver(suite.replicas, {
      outlier_detection: { failure_rate: { threshold: 50, minimum_calls: 20, interval: '10m' } },
      retries: { enabled: false },
    });
    suite.replicas[0]!.hits = 0;
    suite.replicas[0]!.mode = 'every-other-500';
    for (let i = 0; i < 60; i++) await hello(suite.env!.gateway);
    assert.equal(suite.replicas[0]!.hits, 20, 'ejected at the 20th call, half of them failed');
    const ejected = suite.env!.gateway.logs.lines.find(
      (l: any) => l.msg === 'backend instance ejected',
    ) as any;
    assert.equal(ejected?.reason, 'failure_rate');
    suite.replicas[0]!.mode = 'ok';
  });

  test('every replica out: calls fail at once with UPSTREAM_CIRCUIT_OPEN', async () => {
    suite.env = await startOver(suite.replicas, {
      outlier_detection: { max_ejection_percent: 100, consecutive_failures: 2 },
      retries: { enabled: false },
    });
    for (const r of suite.replicas) {
      r.mode = '500';
      r.hits = 0;
    }
    for (let i = 0; i < 4; i++) await hello(suite.env!.gateway);
    const result = await hello(suite.env!.gateway);
    assert.equal(codeOf(result), 'UPSTREAM_CIRCUIT_OPEN');
    assert.deepEqual(result.json.data, { hello: null });
    assert.equal(suite.replicas[0]!.hits + suite.replicas[1]!.hits, 4);
    for (const r of suite.replicas) r.mode = 'ok';
  });

  test('an instance failing its health checks gets no calls until it passes again', async () => {
    suite.env = await startOver(suite.replicas, {
      health_check: {
        path: '/health',
        interval: '20ms',
        timeout: '500ms',
        healthy_threshold: 1,
        unhealthy_threshold: 1,
      },
    });
    suite.replicas[0]!.healthy = false;
    await waitFor(async () => {
      const ready = await get(`${suite.env!.gateway.adminOrigin}/readyz`);
      return ready.json.backends.replicated.instances[0].state === 'unhealthy';
    });
    const before = suite.replicas[0]!.hits;
    for (let i = 0; i < 6; i++) await hello(suite.env!.gateway);
    assert.equal(suite.replicas[0]!.hits, before, 'no calls to the unhealthy replica');
    suite.replicas[0]!.healthy = true;
    await waitFor(async () => {
      const ready = await get(`${suite.env!.gateway.adminOrigin}/readyz`);
      return ready.json.backends.replicated.instances[0].state === 'healthy';
    });
    for (let i = 0; i < 6; i++) await hello(suite.env!.gateway);
    assert.ok(suite.replicas[0]!.hits > before, 'it takes calls again');
  });
});

test('a mutation whose connection is refused goes to another replica: it never left', async () => {
  const alive = await startReplica('alive');
  const dead = await startReplica('dead');
  await dead.close();
  const env = await startOver([dead, alive], { outlier_detection: { enabled: false } });
  try {
    for (let i = 0; i < 4; i++)
      assert.deepEqual((await bump(env.gateway)).json, { data: { bump: 'alive' } });
    assert.equal(alive.mutations, 4);
    const line = env.gateway.logs.lines.findLast(
      (l: any) => l.msg === 'request' && l.retries,
    ) as any;
    assert.equal(line?.retries[0]?.reason, 'connect_failed');
  } finally {
    await env.close();
    await alive.close();
  }
});

test('a route’s own health check: its backend failing it takes no calls, the route answers 503', async () => {
  const replica = await startReplica('r');
  const project = await writeProject([]);
  await project.write(
    'supergraph.yaml',
    stringify({
      subgraphs: {
        stub: { routing_url: 'http://127.0.0.1:9/graphql', schema: { sdl: SDL } },
      },
      routes: [
        {
          name: 'things',
          path_prefix: '/things',
          backends: [{ url: `http://${replica.address}` }],
          traffic: {
            health_check: {
              path: '/health',
              interval: '20ms',
              healthy_threshold: 1,
              unhealthy_threshold: 1,
            },
          },
        },
      ],
    }),
  );
  const gateway = await startTestGateway({ configFile: project.configFile });
  const stateOf = async () =>
    (await get(`${gateway.adminOrigin}/readyz`)).json.backends.things.instances[0].state;
  try {
    assert.equal((await get(`${gateway.origin}/things/1`)).status, 200);
    replica.healthy = false;
    await waitFor(async () => (await stateOf()) === 'unhealthy');
    const before = replica.hits;
    const refused = await get(`${gateway.origin}/things/1`);
    assert.equal(refused.status, 503);
    assert.equal(refused.json.details[0].reason, 'UPSTREAM_CIRCUIT_OPEN');
    assert.equal(replica.hits, before, 'no call reached it');
    replica.healthy = true;
    await waitFor(async () => (await stateOf()) === 'healthy');
    assert.equal((await get(`${gateway.origin}/things/1`)).status, 200);
  } finally {
    await gateway.close();
    await replica.close();
    await project.remove();
  }
});

describe('DNS', () => {
  test('with traffic.dns a name becomes one instance per address it resolves to', async () => {
    const replica = await startReplica('a');
    const port = replica.address.split(':')[1];
    const project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          named: {
            routing_url: `http://localhost:${port}/graphql`,
            schema: { sdl: SDL },
            traffic: { dns: { refresh: '1s' } },
          },
        },
      }),
    );
    const gateway = await startTestGateway({ configFile: project.configFile });
    try {
      await waitFor(async () => {
        const ready = await get(`${gateway.adminOrigin}/readyz`);
        return ready.json.backends.named.instances.some((i: any) => i.address === replica.address);
      });
      // Whatever else localhost resolves to (::1, where nothing listens here), reads are served:
      // a refused address is retried on the one that answers.
      for (let i = 0; i < 4; i++)
        assert.deepEqual((await hello(gateway)).json, { data: { hello: 'a' } });
    } finally {
      await gateway.close();
      await replica.close();
      await project.remove();
    }
  });
});

describe('gRPC instances', () => {
  test('calls are balanced per call over the instances, and a killed one’s reads are retried', async () => {
    const servers = [await startMappingServer(), await startMappingServer()];
    const project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          mapping: {
            source: mappingSource(servers[0]!.address, {
              instances: servers.map((s) => s.address),
            }),
          },
        },
      }),
    );
    const gateway = await startTestGateway({ configFile: project.configFile });
    try {
      for (let i = 0; i < 10; i++)
        assert.deepEqual((await post(gateway.url, { query: '{ getNothing }' })).json, {
          data: { getNothing: true },
        });
      // One channel per instance, one instance per call: both saw half of the calls.
      assert.deepEqual(
        servers.map((s) => s.metadata.length),
        [5, 5],
      );
      await servers[0]!.close();
      for (let i = 0; i < 6; i++)
        assert.deepEqual(
          (await post(gateway.url, { query: '{ getNothing }' })).json,
          { data: { getNothing: true } },
          'a read the dead instance could not take went to the other',
        );
      assert.equal(servers[1]!.metadata.length, 11);
    } finally {
      await gateway.close();
      await Promise.all(servers.map((s) => s.close().catch(() => {})));
      await project.remove();
    }
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(20);
  }
}
