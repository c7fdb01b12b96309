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

describe('circuit breakers', () => {
  let subgraph: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let rest: Awaited<ReturnType<typeof startSwitchableBackend>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  const clock = { ms: 0 };

  before(async () => {
    subgraph = await startSwitchableBackend(JSON.stringify({ data: { hello: 'world' } }));
    rest = await startSwitchableBackend(JSON.stringify({ ok: true }));
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          flaky: {
            routing_url: `${subgraph.url}/graphql`,
            schema: { sdl: 'type Query { hello: String }' },
          },
        },
        routes: [{ name: 'flaky-api', path_prefix: '/api', backends: [{ url: rest.url }] }],
        circuit_breaker: { enabled: true, failure_threshold: 3, open_for: '30s' },
      }),
    );
    gateway = await startTestGateway({
      configFile: project.configFile,
      clock: { now: () => clock.ms },
    });
  });
  after(async () => {
    await gateway.close();
    await subgraph.close();
    await rest.close();
    await project.remove();
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
