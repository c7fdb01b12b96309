import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Metadata } from '@grpc/grpc-js';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startDemoBackends, type DemoBackends } from '../../demo/backends.ts';
import { MetricsConfig, TracingConfig } from '../../src/config/schema.ts';
import { STAGES, type StageEntry } from '../../src/gateway/pipeline.ts';
import { ErrorCode, GatewayError } from '../../src/kernel/errors.ts';
import { DEMO_ANSWER, DEMO_QUERY } from '../fixtures/demo.ts';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { accounts } from '../fixtures/graphs/shop.ts';
import { get, post, startGatewayOver, startTestGateway, type TestGateway } from '../helpers/env.ts';

const CONFIG = join(import.meta.dirname, '../../supergraph.yaml');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

interface Seen {
  backend: string;
  correlationId: string | undefined;
  traceparent: string | undefined;
}

/**
 * The demo graph (a REST, a gRPC and a GraphQL backend) with logs, metrics and traces on: what
 * an operator sees of a request, asserted where it lands (the log, /metrics, the exported spans
 * and the headers each backend received).
 */
describe('observability over the demo graph', () => {
  let backends: DemoBackends;
  let gateway: TestGateway;
  const exporter = new InMemorySpanExporter();
  const seen: Seen[] = [];
  let refuse = false;
  const header = (value: string | string[] | undefined) =>
    Array.isArray(value) ? value[0] : value;

  // Refuses the way the rateLimit stage does (test/integration/rate-limits.test.ts runs the real
  // one): the refusing policy named in the facts, RATE_LIMITED thrown.
  const limiter: StageEntry = {
    name: 'rate-limit-probe',
    event: 'request',
    run(ctx) {
      if (!refuse) return;
      ctx.facts.rateLimited = 'probe-policy';
      throw new GatewayError(ErrorCode.RATE_LIMITED, 'Too many requests.');
    },
  };

  before(async () => {
    backends = await startDemoBackends(
      { users: 0, orders: 0, products: 0 },
      {
        onUsersRequest: (req) =>
          seen.push({
            backend: 'users',
            correlationId: header(req.headers['x-correlation-id']),
            traceparent: header(req.headers.traceparent),
          }),
        onOrdersCall: (md: Metadata) =>
          seen.push({
            backend: 'orders',
            correlationId: md.get('x-correlation-id')[0] as string | undefined,
            traceparent: md.get('traceparent')[0] as string | undefined,
          }),
        onProductsRequest: (req) =>
          seen.push({
            backend: 'products',
            correlationId: header(req.headers['x-correlation-id']),
            traceparent: header(req.headers.traceparent),
          }),
      },
    );
    gateway = await startTestGateway({
      configFile: CONFIG,
      env: { ...backends.env, GRPC_PORT: '0' },
      stages: [...STAGES, limiter],
      observability: {
        metrics: MetricsConfig.parse({ process: false }),
        tracing: TracingConfig.parse({ enabled: true, endpoint: 'http://127.0.0.1:9/v1/traces' }),
        spanExporter: exporter,
      },
    });
  });

  after(async () => {
    await gateway.close();
    await backends.close();
  });

  const requestLines = () => gateway.logs.lines.filter((line) => line.msg === 'request');

  test('one log line per request: correlation and trace ids, operation, hash, status, duration, every backend call', async () => {
    const res = await post(
      gateway.url,
      { query: `query Dashboard ${DEMO_QUERY}`, operationName: 'Dashboard' },
      {
        'x-correlation-id': 'obs-log-1',
        'apollographql-client-name': 'web',
        // A secret a client sends; credentials are verified, and never logged, in auth-gateway.test.ts.
        cookie: 'session=secret-token-123',
        traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`,
      },
    );
    assert.deepEqual(res.json, DEMO_ANSWER);
    const line = requestLines().find((l) => l.correlationId === 'obs-log-1') as any;
    assert.ok(line, 'no request line');
    assert.equal(line.traceId, TRACE_ID);
    assert.equal(line.client, 'web');
    assert.equal(line.operationName, 'Dashboard');
    assert.match(line.documentHash, /^[0-9a-f]{64}$/);
    assert.equal(line.status, 200);
    assert.ok(line.durationMs > 0);
    const backendsCalled = new Set(
      line.calls.map((c: any) => `${c.kind}:${c.backend}:${c.outcome}`),
    );
    assert.deepEqual([...backendsCalled].sort(), [
      'grpc:orders:ok',
      'rest:users:ok',
      'subgraph:products:ok',
    ]);
    for (const call of line.calls) assert.ok(call.ms >= 0);
    // Estimated before any backend was called, on the query plan (docs/limits.md), with the
    // default list size of 10 and no @cost in the demo schemas. Three fetches:
    //   users, `user { name }`: User 1                                                     = 1
    //   orders, Flatten(user): 1 representation (user is one object) x (_Entity 1 +
    //     10 orders x (Order 1 + 10 items x (OrderItem 1 + product 1))) = 1 x (1 + 10 x 21) = 211
    //   products, Flatten(user.orders.@.items.@.product): 10 orders x 10 items
    //     = 100 representations x (_Entity 1 + name 0)                                      = 100
    assert.equal(line.cost, 312);
  });

  test('the correlation id and the trace id reach every backend', () => {
    const ours = seen.filter((s) => s.correlationId === 'obs-log-1');
    assert.deepEqual([...new Set(ours.map((s) => s.backend))].sort(), [
      'orders',
      'products',
      'users',
    ]);
    for (const call of ours) {
      const [, traceId, spanId] = (call.traceparent ?? '').split('-');
      assert.equal(traceId, TRACE_ID, `${call.backend} got ${call.traceparent}`);
      assert.notEqual(spanId, CLIENT_SPAN, 'each backend call has its own span');
    }
  });

  test('the spans of the request form one tree under the client’s span', () => {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID);
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const roots = spans.filter((s) => !ids.has(parentOf(s) ?? ''));
    assert.equal(roots.length, 1, roots.map((s) => s.name).join(', '));
    assert.equal(parentOf(roots[0]!), CLIENT_SPAN);
    assert.equal(roots[0]!.name, 'POST /graphql');
    const names = spans.map((s) => s.name);
    for (const name of [
      'graphql.parse',
      'graphql.validate',
      'graphql.plan',
      'graphql.execute',
      'demo.orders.v1.OrderService/ListOrdersByUser',
    ])
      assert.ok(names.includes(name), `no ${name} span in ${names.join(', ')}`);
    const grpcSpan = spans.find((s) => s.name.startsWith('demo.orders.v1'))!;
    assert.equal(grpcSpan.attributes['rpc.system'], 'grpc');
    assert.equal(grpcSpan.attributes['rpc.grpc.status_code'], 0);
    const restSpan = spans.find((s) => s.attributes['gateway.backend'] === 'users')!;
    assert.equal(restSpan.attributes['http.request.method'], 'GET');
    assert.equal(restSpan.attributes['http.response.status_code'], 200);
  });

  test('Authorization never appears in any log line', () => {
    assert.doesNotMatch(gateway.logs.text(), /secret-token-123/);
  });

  test('a generated correlation id is returned and logged; an invalid one is replaced', async () => {
    const generated = await post(gateway.url, { query: '{ products { id } }' });
    const id = String(generated.headers['x-correlation-id']);
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.ok(requestLines().some((l) => l.correlationId === id));
    const forged = await post(
      gateway.url,
      { query: '{ products { id } }' },
      {
        'x-correlation-id': 'not valid; has spaces',
      },
    );
    assert.match(String(forged.headers['x-correlation-id']), /^[0-9a-f-]{36}$/);
  });

  async function metric(name: string, labels: Record<string, string>): Promise<number> {
    const text = (await get(`${gateway.adminOrigin}/metrics`)).text;
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (wanted.every((pair) => line.includes(pair))) total += Number(line.split(' ').pop());
    }
    return total;
  }

  test('/metrics counts a success: request counter, latency histogram and backend calls move', async () => {
    const labels = { surface: 'graphql', client: 'web', operation: 'Dashboard', outcome: 'ok' };
    const before = await metric('gateway_requests_total', labels);
    const histogramBefore = await metric('gateway_request_duration_seconds_count', labels);
    const usersBefore = await metric('gateway_backend_calls_total', {
      backend: 'users',
      kind: 'rest',
      outcome: 'ok',
    });
    await post(
      gateway.url,
      { query: `query Dashboard ${DEMO_QUERY}` },
      { 'apollographql-client-name': 'web' },
    );
    assert.equal(await metric('gateway_requests_total', labels), before + 1);
    assert.equal(
      await metric('gateway_request_duration_seconds_count', labels),
      histogramBefore + 1,
    );
    assert.equal(
      await metric('gateway_backend_calls_total', {
        backend: 'users',
        kind: 'rest',
        outcome: 'ok',
      }),
      usersBefore + 1,
    );
  });

  test('/metrics counts a backend failure under the backend, its kind and the error code', async () => {
    const labels = { backend: 'orders', kind: 'grpc', outcome: 'NOT_FOUND' };
    const before = await metric('gateway_backend_calls_total', labels);
    const res = await post(gateway.url, { query: '{ getOrder(id: "nope") { id } }' });
    assert.equal(res.json.errors[0].extensions.code, 'NOT_FOUND');
    assert.equal(await metric('gateway_backend_calls_total', labels), before + 1);
    assert.equal(await metric('gateway_backend_call_duration_seconds_count', labels), before + 1);
    const failed = await metric('gateway_requests_total', {
      surface: 'graphql',
      outcome: 'NOT_FOUND',
    });
    assert.ok(failed >= 1);
  });

  test('/metrics has the estimated cost of GraphQL operations by client', async () => {
    // The demo's /graphql serves its default client, web; a header does not pick another.
    const web = { client: 'web' };
    const count = await metric('gateway_operation_cost_count', web);
    const sum = await metric('gateway_operation_cost_sum', web);
    await post(
      gateway.url,
      { query: '{ products { id } }' },
      { 'apollographql-client-name': 'cost-probe' },
    );
    assert.equal(await metric('gateway_operation_cost_count', web), count + 1);
    // A list of 10 (the default size) products, 1 each.
    assert.equal(await metric('gateway_operation_cost_sum', web), sum + 10);
    assert.equal(await metric('gateway_operation_cost_count', { client: 'cost-probe' }), 0);
  });

  test('/metrics counts a rate-limit refusal', async () => {
    const labels = { policy: 'probe-policy', surface: 'graphql' };
    const before = await metric('gateway_rate_limited_total', labels);
    refuse = true;
    try {
      const res = await post(gateway.url, { query: '{ products { id } }' });
      assert.equal(res.status, 429);
    } finally {
      refuse = false;
    }
    assert.equal(await metric('gateway_rate_limited_total', labels), before + 1);
    assert.ok((await metric('gateway_requests_total', { outcome: 'RATE_LIMITED' })) >= 1);
  });

  test('REST and gRPC surfaces are counted and logged too', async () => {
    const order = await get(`${gateway.origin}/v1/orders/1`, { 'x-correlation-id': 'obs-rest-1' });
    assert.equal(order.status, 200);
    const line = requestLines().find((l) => l.correlationId === 'obs-rest-1') as any;
    assert.equal(line.surface, 'rest');
    assert.deepEqual(
      line.calls.map((c: any) => [c.backend, c.kind, c.outcome]),
      [['orders', 'grpc', 'ok']],
    );
    assert.ok((await metric('gateway_requests_total', { surface: 'rest', outcome: 'ok' })) >= 1);
  });

  test('cache lookups are counted: documents, query plans and persisted queries', async () => {
    const lookups = async (cache: string, result: string) =>
      metric('gateway_cache_lookups_total', { cache, result });
    const before = {
      documentMiss: await lookups('document', 'miss'),
      documentHit: await lookups('document', 'hit'),
      planMiss: await lookups('query_plan', 'miss'),
      planHit: await lookups('query_plan', 'hit'),
    };
    // A document no earlier test sent: parsed, validated and planned once, then served cached.
    // Users are not in the demo's response cache (products are: a second query would be
    // answered before planning).
    const query = 'query CacheProbe { user(id: "2") { id name } }';
    for (let i = 0; i < 2; i++) assert.equal((await post(gateway.url, { query })).status, 200);
    assert.equal(await lookups('document', 'miss'), before.documentMiss + 1);
    assert.equal(await lookups('document', 'hit'), before.documentHit + 1);
    assert.equal(await lookups('query_plan', 'miss'), before.planMiss + 1);
    assert.equal(await lookups('query_plan', 'hit'), before.planHit + 1);

    const persisted = 'query CacheProbeApq { products { id } }';
    const sha256Hash = createHash('sha256').update(persisted).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const apqMiss = await lookups('apq', 'miss');
    const apqHit = await lookups('apq', 'hit');
    const unknown = await post(gateway.url, { extensions });
    assert.equal(unknown.json.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
    await post(gateway.url, { query: persisted, extensions });
    assert.deepEqual(Object.keys((await post(gateway.url, { extensions })).json.data), [
      'products',
    ]);
    assert.equal(await lookups('apq', 'miss'), apqMiss + 1);
    assert.equal(await lookups('apq', 'hit'), apqHit + 1);
  });

  test('operation names beyond the label budget share one value', async () => {
    // The default budget is 200 names; a client inventing names must not grow the series forever.
    for (let i = 0; i < 205; i++) {
      await post(gateway.url, { query: `query Op${i} { products { id } }` });
    }
    const text = (await get(`${gateway.adminOrigin}/metrics`)).text;
    assert.match(text, /gateway_requests_total\{[^}]*operation="\(other\)"/);
    assert.doesNotMatch(text, /operation="Op204"/);
  });
});

describe('traces exported over OTLP/HTTP, and masking', () => {
  test('spans reach an OTLP/HTTP receiver with the client’s trace id', async (t) => {
    const bodies: { path: string; type: string; body: string }[] = [];
    const receiver = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      bodies.push({ path: String(req.url), type: String(req.headers['content-type']), body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
    const env = await startGatewayOver([accounts], {
      observability: { tracing: TracingConfig.parse({ enabled: true, endpoint }) },
    });
    t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    await post(
      env.gateway.url,
      { query: '{ me { id } }' },
      {
        traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`,
      },
    );
    // Closing the gateway flushes the batch of spans.
    await env.close();
    const exported = bodies.filter((b) => b.path === '/v1/traces');
    assert.ok(exported.length > 0, 'nothing exported');
    assert.match(exported[0]!.type, /^application\/json/);
    const json = JSON.stringify(exported.map((b) => JSON.parse(b.body)));
    assert.ok(
      json.includes(TRACE_ID.toUpperCase()) || json.includes(TRACE_ID),
      'trace id not in the export',
    );
    assert.ok(json.includes('"POST /graphql"'), 'no request span in the export');
  });

  test('a collector refusing spans costs the lost batch and a warning, never a request', async (t) => {
    let refused = 0;
    const receiver = createServer(async (req, res) => {
      for await (const _ of req);
      refused++;
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"no"}');
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
    const env = await startGatewayOver([accounts], {
      observability: { tracing: TracingConfig.parse({ enabled: true, endpoint }) },
    });
    for (let i = 0; i < 3; i++) {
      const res = await post(env.gateway.url, { query: '{ me { id } }' });
      assert.deepEqual(Object.keys(res.json.data), ['me']);
    }
    const logs = env.gateway.logs;
    await env.close(); // flushes the batch, which the collector refuses
    assert.equal(refused, 1, 'the three requests’ spans went in one batch');
    const warning = logs.lines.find((l) => String(l.msg).startsWith('span export failed'));
    assert.ok(warning, 'no warning for the lost batch');
    assert.equal(warning.level, 40);
  });

  test('production validation errors do not suggest field names; development does', async (t) => {
    const prod = await startGatewayOver([accounts], { server: { mode: 'production' } });
    const dev = await startGatewayOver([accounts], { server: { mode: 'development' } });
    t.after(async () => {
      await prod.close();
      await dev.close();
    });
    const ask = (url: string) => post(url, { query: '{ me { nam } }' });
    const [masked, full] = await Promise.all([ask(prod.gateway.url), ask(dev.gateway.url)]);
    assert.equal(masked.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.doesNotMatch(masked.json.errors[0].message, /Did you mean/);
    assert.match(full.json.errors[0].message, /Did you mean "name"\?/);
  });

  test('a masked error keeps its code and path and carries the correlation id; the log keeps the detail', async (t) => {
    const failing = {
      ...accounts,
      resolvers: {
        ...accounts.resolvers,
        Query: {
          ...accounts.resolvers.Query,
          me: () => {
            throw new Error('db-7.internal refused: pool exhausted');
          },
        },
      },
    };
    const env = await startGatewayOver([failing], { server: { mode: 'production' } });
    t.after(() => env.close());
    const res = await post(
      env.gateway.url,
      { query: '{ me { id } }' },
      { 'x-correlation-id': 'mask-1' },
    );
    const [error] = res.json.errors;
    assert.doesNotMatch(JSON.stringify(res.json), /db-7|pool exhausted/);
    assert.deepEqual(error.path, ['me']);
    assert.equal(error.extensions.correlationId, 'mask-1');
    assert.match(env.gateway.logs.text(), /db-7\.internal refused/);
  });
});
