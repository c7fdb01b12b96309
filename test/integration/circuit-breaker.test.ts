import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { get, post, startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';

/**
 * A backend that is broken (HTTP 500) or healthy on demand, and counts what reaches it: the
 * circuit's whole point is the calls that do not.
 */
async function startSwitchableBackend(healthyBody: string) {
  const state = { healthy: false, hits: 0 };
  const server: Server = createServer(async (req, res) => {
    for await (const _ of req);
    state.hits++;
    if (!state.healthy) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('database on fire');
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

/** `config` with breakers (3 failures in a row, 30 s open), on a clock the test moves. */
async function startGatewayWithBreakers(config: Record<string, unknown>, clock: { ms: number }) {
  const project = await writeProject([]);
  await project.write(
    'supergraph.yaml',
    stringify({
      ...config,
      circuit_breaker: { enabled: true, failure_threshold: 3, open_for: '30s' },
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

describe('circuit breakers', () => {
  let subgraph: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let rest: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let env: Awaited<ReturnType<typeof startGatewayWithBreakers>>;
  let gateway: TestGateway;
  const clock = { ms: 0 };

  before(async () => {
    subgraph = await startSwitchableBackend(JSON.stringify({ data: { hello: 'world' } }));
    rest = await startSwitchableBackend(JSON.stringify({ ok: true }));
    env = await startGatewayWithBreakers(
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
  const metrics = async () => (await get(`${gateway.origin}/metrics`)).text;

  test('a failing subgraph is called failure_threshold times, then refused without a call', async () => {
    for (let i = 0; i < 3; i++) assert.equal(codeOf(await hello()), 'UPSTREAM_ERROR');
    assert.equal(subgraph.state.hits, 3);

    const refused = await hello();
    assert.equal(refused.status, 200, 'a field error: the response is still GraphQL');
    assert.equal(codeOf(refused), 'UPSTREAM_CIRCUIT_OPEN');
    assert.equal(refused.json.errors[0].extensions.subgraph, 'flaky');
    assert.deepEqual(refused.json.data, { hello: null });
    assert.equal(subgraph.state.hits, 3, 'the open circuit made no call');

    const line = gateway.logs.lines.findLast((l) => l.msg === 'request') as any;
    assert.deepEqual(
      line.calls.map((c: any) => [c.backend, c.outcome]),
      [['flaky', 'UPSTREAM_CIRCUIT_OPEN']],
    );
    assert.ok(gateway.logs.lines.some((l) => l.msg?.toString().startsWith('circuit opened')));
    const text = await metrics();
    assert.match(
      text,
      /gateway_circuit_breaker_state\{backend="flaky",endpoint="[^"]+",state="open"\} 1/,
    );
    assert.match(
      text,
      /gateway_circuit_breaker_state\{backend="flaky",endpoint="[^"]+",state="closed"\} 0/,
    );
    assert.match(
      text,
      /gateway_backend_calls_total\{backend="flaky",kind="subgraph",outcome="UPSTREAM_CIRCUIT_OPEN"\} 1/,
    );
  });

  test('after open_for a trial call reaches the recovered subgraph and closes the circuit', async () => {
    subgraph.state.healthy = true;
    clock.ms += 30_000;
    const trial = await hello();
    assert.deepEqual(trial.json, { data: { hello: 'world' } });
    assert.equal(subgraph.state.hits, 4);
    assert.deepEqual((await hello()).json, { data: { hello: 'world' } });
    const text = await metrics();
    assert.match(
      text,
      /gateway_circuit_breaker_state\{backend="flaky",endpoint="[^"]+",state="closed"\} 1/,
    );
    assert.match(
      text,
      /gateway_circuit_breaker_transitions_total\{backend="flaky",endpoint="[^"]+",state="half_open"\} 1/,
    );
  });

  test('a REST route’s backend answering 5xx opens its circuit: 503 with a Status body', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await get(`${gateway.origin}/api/x`)).status, 500);
    const refused = await get(`${gateway.origin}/api/x`);
    assert.equal(refused.status, 503);
    assert.equal(refused.json.code, 14, 'google.rpc.Code UNAVAILABLE');
    assert.equal(refused.json.details[0].reason, 'UPSTREAM_CIRCUIT_OPEN');
    assert.equal(rest.state.hits, 3);
    // The subgraph's circuit is its own: still closed.
    assert.deepEqual((await hello()).json, { data: { hello: 'world' } });
  });

  test('a trial that fails opens the circuit again', async () => {
    clock.ms += 30_000;
    assert.equal((await get(`${gateway.origin}/api/x`)).status, 500, 'the trial reached it');
    assert.equal(rest.state.hits, 4);
    assert.equal((await get(`${gateway.origin}/api/x`)).status, 503);
    assert.equal(rest.state.hits, 4);
    rest.state.healthy = true;
    clock.ms += 30_000;
    assert.equal((await get(`${gateway.origin}/api/x`)).status, 200);
  });
});

describe('circuit breakers and a route’s weighted backends', () => {
  let good: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let bad: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let env: Awaited<ReturnType<typeof startGatewayWithBreakers>>;
  let gateway: TestGateway;
  const clock = { ms: 0 };

  before(async () => {
    good = await startSwitchableBackend(JSON.stringify({ ok: true }));
    good.state.healthy = true;
    bad = await startSwitchableBackend(JSON.stringify({ ok: true }));
    env = await startGatewayWithBreakers(
      {
        subgraphs: {
          stub: {
            routing_url: 'http://127.0.0.1:9/graphql',
            schema: { sdl: 'type Query { hello: String }' },
          },
        },
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

  test('an open backend gets no traffic while its pair takes it all, and rejoins after a good trial', async () => {
    // Half the requests reach the failing backend (at random) until its circuit opens.
    let attempts = 0;
    while (bad.state.hits < 3 && attempts++ < 200) await get(`${gateway.origin}/api/x`);
    assert.equal(bad.state.hits, 3);
    for (let i = 0; i < 20; i++) assert.equal((await get(`${gateway.origin}/api/x`)).status, 200);
    assert.equal(bad.state.hits, 3, 'the open backend was passed over, not failed fast');

    bad.state.healthy = true;
    clock.ms += 30_000;
    const goodBefore = good.state.hits;
    for (let i = 0; i < 40; i++) assert.equal((await get(`${gateway.origin}/api/x`)).status, 200);
    // 40 requests at 1:1: each side's count is binomial (sd about 3.2); 5 is far below 20.
    assert.ok(bad.state.hits - 3 >= 5, `the recovered backend got ${bad.state.hits - 3} of 40`);
    assert.ok(good.state.hits - goodBefore >= 5);
  });
});
