import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startDemoBackends, type DemoBackends } from '../../demo/backends.ts';
import { get, post, startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';
import { STUB_SUBGRAPHS } from '../helpers/config.ts';

/**
 * A backend that is broken (HTTP 500) or healthy on demand, and counts what reaches it: an
 * ejection's whole point is the calls that do not.
 */
async function startSwitchableBackend(healthyBody: string) {
  const state = { healthy: false, hits: 0, status: 500 };
  const server: Server = createServer(async (req, res) => {
    for await (const _ of req);
    state.hits++;
    if (!state.healthy) {
      res.writeHead(state.status, { 'content-type': 'text/plain' });
      return res.end(state.status >= 500 ? 'database on fire' : 'no such thing');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(healthyBody);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `config` with breaker-like outlier detection (3 failures in a row, 30 s out), on a test clock. */
async function startGatewayWithOutliers(config: Record<string, unknown>, clock: { ms: number }) {
  const project = await writeProject([]);
  await project.write(
    'supergraph.yaml',
    stringify({
      ...config,
      // max_ejection_percent 100: a backend's only instance may be ejected (a circuit breaker).
      traffic: {
        outlier_detection: {
          consecutive_failures: 3,
          base_ejection_time: '30s',
          max_ejection_percent: 100,
        },
      },
    }),
  );
  const gateway = await startTestGateway({
    configFile: project.configFile,
    clock: { now: () => clock.ms },
  });
  return {
    gateway,
    close: async () => {
      await gateway.close();
      await project.remove();
    },
  };
}

describe('outlier detection of single-instance backends (the circuit breaker case)', () => {
  let subgraph: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let rest: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let env: Awaited<ReturnType<typeof startGatewayWithOutliers>>;
  let gateway: TestGateway;
  const clock = { ms: 0 };

  before(async () => {
    subgraph = await startSwitchableBackend(JSON.stringify({ data: { hello: 'world' } }));
    rest = await startSwitchableBackend(JSON.stringify({ ok: true }));
    env = await startGatewayWithOutliers(
      {
        subgraphs: {
          flaky: {
            routing_url: `${subgraph.url}/graphql`,
            schema: { sdl: 'type Query { hello: String }' },
          },
        },
        routes: [{ name: 'flaky-api', path_prefix: '/api', backends: [{ url: rest.url }] }],
      },
      clock,
    );
    gateway = env.gateway;
  });
  after(async () => {
    await env.close();
    await subgraph.close();
    await rest.close();
  });

  const hello = () => post(gateway.url, { query: '{ hello }' });
  const codeOf = (result: { json: any }) => result.json.errors?.[0]?.extensions?.code;
  const metrics = async () => (await get(`${gateway.adminOrigin}/metrics`)).text;

  test('a subgraph answering 4xx is not failing: every call is made', async () => {
    subgraph.state.status = 404;
    try {
      for (let i = 0; i < 5; i++) assert.equal(codeOf(await hello()), 'UPSTREAM_ERROR');
      assert.equal(subgraph.state.hits, 5, 'no call refused');
    } finally {
      subgraph.state.status = 500;
      subgraph.state.hits = 0;
    }
  });

  test('a failing subgraph is called consecutive_failures times, then refused without a call', async () => {
    for (let i = 0; i < 3; i++) assert.equal(codeOf(await hello()), 'UPSTREAM_ERROR');
    assert.equal(subgraph.state.hits, 3);

    const refused = await hello();
    assert.equal(refused.status, 200, 'a field error: the response is still GraphQL');
    assert.equal(codeOf(refused), 'UPSTREAM_CIRCUIT_OPEN');
    assert.equal(refused.json.errors[0].extensions.subgraph, 'flaky');
    assert.deepEqual(refused.json.data, { hello: null });
    assert.equal(subgraph.state.hits, 3, 'the ejected instance got no call');

    const line = gateway.logs.lines.findLast((l) => l.msg === 'request') as any;
    assert.deepEqual(
      line.calls.map((c: any) => [c.backend, c.outcome]),
      [['flaky', 'UPSTREAM_CIRCUIT_OPEN']],
    );
    const ejected = gateway.logs.lines.find((l) => l.msg === 'backend instance ejected') as any;
    assert.equal(ejected?.backend, 'flaky');
    assert.equal(ejected?.reason, 'consecutive_failures');
    assert.equal(ejected?.forMs, 30_000);
    const text = await metrics();
    assert.match(
      text,
      /gateway_backend_instance_state\{backend="flaky",instance="[^"]+",state="ejected"\} 1/,
    );
    assert.match(
      text,
      /gateway_backend_instance_state\{backend="flaky",instance="[^"]+",state="healthy"\} 0/,
    );
    assert.match(
      text,
      /gateway_backend_calls_total\{backend="flaky",kind="subgraph",outcome="UPSTREAM_CIRCUIT_OPEN"\} 1/,
    );
  });

  test('after base_ejection_time the instance is re-admitted and the recovered subgraph answers', async () => {
    subgraph.state.healthy = true;
    clock.ms += 30_000;
    const trial = await hello();
    assert.deepEqual(trial.json, { data: { hello: 'world' } });
    assert.equal(subgraph.state.hits, 4);
    assert.deepEqual((await hello()).json, { data: { hello: 'world' } });
    const text = await metrics();
    assert.match(
      text,
      /gateway_backend_instance_state\{backend="flaky",instance="[^"]+",state="healthy"\} 1/,
    );
    assert.match(
      text,
      /gateway_backend_ejections_total\{backend="flaky",instance="[^"]+",reason="consecutive_failures"\} 1/,
    );
  });

  test('a REST route’s backend answering 5xx is ejected: 503 with a Status body', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await get(`${gateway.origin}/api/x`)).status, 500);
    const refused = await get(`${gateway.origin}/api/x`);
    assert.equal(refused.status, 503);
    assert.equal(refused.json.code, 14, 'google.rpc.Code UNAVAILABLE');
    assert.equal(refused.json.details[0].reason, 'UPSTREAM_CIRCUIT_OPEN');
    assert.equal(rest.state.hits, 3);
    // The subgraph's instance is its own: still taking calls.
    assert.deepEqual((await hello()).json, { data: { hello: 'world' } });
  });

  test('a re-admitted instance that fails again is ejected twice as long', async () => {
    clock.ms += 30_000;
    for (let i = 0; i < 3; i++)
      assert.equal((await get(`${gateway.origin}/api/x`)).status, 500, 're-admitted: reached');
    assert.equal(rest.state.hits, 6);
    assert.equal((await get(`${gateway.origin}/api/x`)).status, 503);
    const second = gateway.logs.lines.findLast((l) => l.msg === 'backend instance ejected') as any;
    assert.equal(second?.backend, 'flaky-api');
    assert.equal(second?.forMs, 60_000, 'the second ejection: 2 × base_ejection_time');
    rest.state.healthy = true;
    clock.ms += 30_000;
    assert.equal((await get(`${gateway.origin}/api/x`)).status, 503, 'still out after 30 s');
    assert.equal(rest.state.hits, 6);
    clock.ms += 30_000;
    assert.equal((await get(`${gateway.origin}/api/x`)).status, 200);
  });
});

describe('outlier detection and a route’s weighted backends', () => {
  let good: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let bad: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let env: Awaited<ReturnType<typeof startGatewayWithOutliers>>;
  let gateway: TestGateway;
  const clock = { ms: 0 };

  before(async () => {
    good = await startSwitchableBackend(JSON.stringify({ ok: true }));
    good.state.healthy = true;
    bad = await startSwitchableBackend(JSON.stringify({ ok: true }));
    env = await startGatewayWithOutliers(
      {
        subgraphs: STUB_SUBGRAPHS,
        routes: [
          { name: 'pair', path_prefix: '/api', backends: [{ url: good.url }, { url: bad.url }] },
        ],
      },
      clock,
    );
    gateway = env.gateway;
  });
  after(async () => {
    await env.close();
    await good.close();
    await bad.close();
  });

  test('an ejected backend gets no traffic while its pair takes it all, and rejoins after its ejection', async () => {
    // Half the requests reach the failing backend (at random) until it is ejected.
    let attempts = 0;
    while (bad.state.hits < 3 && attempts++ < 200) await get(`${gateway.origin}/api/x`);
    assert.equal(bad.state.hits, 3);
    for (let i = 0; i < 20; i++) assert.equal((await get(`${gateway.origin}/api/x`)).status, 200);
    assert.equal(bad.state.hits, 3, 'the ejected backend was passed over, not failed fast');

    bad.state.healthy = true;
    clock.ms += 30_000;
    const goodBefore = good.state.hits;
    for (let i = 0; i < 40; i++) assert.equal((await get(`${gateway.origin}/api/x`)).status, 200);
    // 40 requests at 1:1: each side's count is binomial (sd about 3.2); 5 is far below 20.
    assert.ok(bad.state.hits - 3 >= 5, `the recovered backend got ${bad.state.hits - 3} of 40`);
    assert.ok(good.state.hits - goodBefore >= 5);
  });
});

/**
 * The demo graph (outlier detection on by default) asked six times in a row
 * for things that do not exist, on every kind of backend: each answer is a 404 or NOT_FOUND, an
 * answer and not a failure, so nothing is ejected and the sixth request still reaches its backend.
 * (The other client statuses, 405 to 429 and ALREADY_EXISTS to CANCELLED, are tabled against the
 * outbound chain itself in outbound-chain.test.ts: every kind of backend goes through it.)
 */
describe('outlier detection over the demo graph: a client error is an answer on every kind of backend', () => {
  let backends: DemoBackends;
  let gateway: TestGateway;

  before(async () => {
    backends = await startDemoBackends({ users: 0, orders: 0, products: 0 });
    gateway = await startTestGateway({
      configFile: join(import.meta.dirname, '../../supergraph.yaml'),
      env: { ...backends.env, GRPC_PORT: '0' },
    });
  });
  after(async () => {
    await gateway.close();
    await backends.close();
  });

  const graphqlCode = async (query: string) =>
    (await post(gateway.url, { query })).json.errors?.[0]?.extensions?.code;
  const SIX = [1, 2, 3, 4, 5, 6];

  test('REST adapter: a 404 six times is NOT_FOUND six times', async () => {
    for (const _ of SIX) assert.equal(await graphqlCode('{ user(id: "999") { id } }'), 'NOT_FOUND');
  });

  test('gRPC adapter: NOT_FOUND six times is NOT_FOUND six times', async () => {
    for (const _ of SIX)
      assert.equal(await graphqlCode('{ getOrder(id: "999") { id } }'), 'NOT_FOUND');
  });

  test('transcoded method: NOT_FOUND six times is a 404 six times', async () => {
    for (const _ of SIX) assert.equal((await get(`${gateway.origin}/v1/orders/999`)).status, 404);
  });

  test('REST route: a 404 six times is a 404 six times', async () => {
    for (const _ of SIX) assert.equal((await get(`${gateway.origin}/api/users/999`)).status, 404);
  });

  test('gRPC port: a 404 from the REST backend six times is NOT_FOUND six times', async () => {
    for (const _ of SIX) {
      const client = new grpc.Client(
        gateway.running.grpcAddress as string,
        grpc.credentials.createInsecure(),
      );
      const code = await new Promise<number>((resolve) =>
        client.makeUnaryRequest(
          '/demo.users.v1.UserService/GetUser',
          (value: Buffer) => value,
          (bytes: Buffer) => bytes,
          // GetUserRequest { id = "999" }
          Buffer.from([0x0a, 0x03, 0x39, 0x39, 0x39]),
          (error) => {
            client.close();
            resolve(error?.code ?? grpc.status.OK);
          },
        ),
      );
      assert.equal(code, grpc.status.NOT_FOUND);
    }
  });

  test('and nothing was ejected', async () => {
    const text = (await get(`${gateway.adminOrigin}/metrics`)).text;
    assert.match(text, /gateway_backend_instance_state\{backend="users",[^}]*state="healthy"\} 1/);
    assert.doesNotMatch(text, /gateway_backend_instance_state\{[^}]*state="ejected"\} 1/);
    assert.doesNotMatch(text, /UPSTREAM_CIRCUIT_OPEN/);
    // The transcoded 404s are counted under their binding and their code, not as ok.
    assert.match(
      text,
      /gateway_requests_total\{surface="rest",client="\(unknown\)",operation="GET \/v1\/orders\/\{id\}",outcome="NOT_FOUND"\} 6/,
    );
  });
});
