import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { TracingConfig } from '../../../src/config/schema.ts';
import { createTracing } from '../../../src/observability/trace.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const REST_CALL = {
  backend: 'users',
  kind: 'rest',
  operation: 'GET /users/{id}',
  protocol: 'http',
  address: '127.0.0.1:8081',
  method: 'GET',
} as const;

function tracer(sampleRatio = 1) {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing({
    config: TracingConfig.parse({ enabled: true, exporter: 'none', sample_ratio: sampleRatio }),
    exporter,
  });
  return { tracing, exporter };
}

test('a request under a sampled client span: one tree, times and attributes exported', async () => {
  const { tracing, exporter } = tracer();
  const server = tracing.startRequest(
    { traceparent: `00-${TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=abc' },
    'POST /graphql',
    { 'http.request.method': 'POST' },
  );
  const execute = tracing.startInternal('graphql.execute', server);
  const { span: call, headers } = tracing.startCall(execute, REST_CALL);
  call.setAttribute('http.response.status_code', 200);
  call.end('ok');
  execute.end('ok');
  server.end('ok', { 'http.response.status_code': 200 });

  const spans = exporter.getFinishedSpans();
  assert.deepEqual(
    spans.map((s) => s.name),
    ['GET', 'graphql.execute', 'POST /graphql'],
  );
  const [callSpan, executeSpan, serverSpan] = spans as [
    (typeof spans)[0],
    (typeof spans)[0],
    (typeof spans)[0],
  ];
  assert.ok(spans.every((s) => s.spanContext().traceId === TRACE));
  assert.equal(serverSpan.parentSpanContext?.spanId, CLIENT_SPAN);
  assert.equal(serverSpan.parentSpanContext?.isRemote, true);
  assert.equal(executeSpan.parentSpanContext?.spanId, serverSpan.spanContext().spanId);
  assert.equal(callSpan.parentSpanContext?.spanId, executeSpan.spanContext().spanId);
  assert.equal(serverSpan.kind, SpanKind.SERVER);
  assert.equal(callSpan.kind, SpanKind.CLIENT);
  assert.deepEqual(callSpan.attributes, {
    'gateway.backend': 'users',
    'gateway.backend.kind': 'rest',
    'server.address': '127.0.0.1',
    'server.port': 8081,
    'http.request.method': 'GET',
    'http.response.status_code': 200,
  });
  assert.equal(serverSpan.attributes['http.response.status_code'], 200);
  // The backend's parent is the call span, in the same trace, with the client's trace state.
  assert.equal(headers.traceparent, `00-${TRACE}-${callSpan.spanContext().spanId}-01`);
  assert.equal(headers.tracestate, 'vendor=abc');
  for (const s of spans) {
    const start = s.startTime[0] * 1e9 + s.startTime[1];
    const end = s.endTime[0] * 1e9 + s.endTime[1];
    assert.ok(end >= start && Math.abs(start / 1e6 - Date.now()) < 60_000, 'epoch times');
    assert.ok(Math.abs(s.duration[0] * 1e9 + s.duration[1] - (end - start)) < 1_000);
  }
  await tracing.shutdown();
});

test('a failed call is an error span named by its outcome; a second end changes nothing', async () => {
  const { tracing, exporter } = tracer();
  const server = tracing.startRequest({}, 'POST /graphql', {});
  const { span } = tracing.startCall(server, {
    backend: 'orders',
    kind: 'grpc',
    operation: 'demo.orders.v1.OrderService/GetOrder',
    protocol: 'grpc',
  });
  span.end('UPSTREAM_TIMEOUT');
  span.end('ok');
  const [exported, ...rest] = exporter.getFinishedSpans();
  assert.equal(rest.length, 0);
  assert.equal(exported?.name, 'demo.orders.v1.OrderService/GetOrder');
  assert.deepEqual(exported?.status, { code: SpanStatusCode.ERROR, message: 'UPSTREAM_TIMEOUT' });
  assert.equal(exported?.attributes['error.type'], 'UPSTREAM_TIMEOUT');
  assert.equal(exported?.attributes['rpc.service'], 'demo.orders.v1.OrderService');
  assert.equal(exported?.attributes['rpc.method'], 'GetOrder');
  await tracing.shutdown();
});

test('a client that does not sample is followed: nothing recorded, its trace still propagated', async () => {
  const { tracing, exporter } = tracer();
  const server = tracing.startRequest(
    { traceparent: `00-${TRACE}-${CLIENT_SPAN}-00` },
    'POST /graphql',
    {},
  );
  const { span, headers } = tracing.startCall(server, REST_CALL);
  assert.match(headers.traceparent ?? '', new RegExp(`^00-${TRACE}-[\\da-f]{16}-00$`));
  span.end('ok');
  server.end('ok');
  assert.equal(exporter.getFinishedSpans().length, 0);
  await tracing.shutdown();
});

test('new traces follow the sample ratio; invalid client headers start a new trace', async () => {
  const never = tracer(0);
  const server = never.tracing.startRequest({ traceparent: 'garbage' }, 'GET rest', {});
  assert.notEqual(server.traceId, TRACE);
  assert.match(server.traceId, /^[\da-f]{32}$/);
  const { headers } = never.tracing.startCall(server, REST_CALL);
  assert.match(headers.traceparent ?? '', /-00$/);
  assert.equal(headers.tracestate, undefined);
  server.end('ok');
  assert.equal(never.exporter.getFinishedSpans().length, 0);
  await never.tracing.shutdown();

  const always = tracer(1);
  always.tracing.startRequest({}, 'GET rest', {}).end('ok');
  assert.equal(always.exporter.getFinishedSpans().length, 1);
  assert.equal(always.exporter.getFinishedSpans()[0]?.parentSpanContext, undefined);
  await always.tracing.shutdown();
});

test('a trace state with no valid member is not passed on', async () => {
  const { tracing } = tracer();
  const server = tracing.startRequest(
    { traceparent: `00-${TRACE}-${CLIENT_SPAN}-01`, tracestate: 'not a list member' },
    'POST /graphql',
    {},
  );
  assert.equal(tracing.startCall(server, REST_CALL).headers.tracestate, undefined);
  await tracing.shutdown();
});
