import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
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
  call.finish('ok');
  execute.finish('ok');
  server.finish('ok', { 'http.response.status_code': 200 });

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
    address: '127.0.0.1:4202',
  });
  span.finish('GATEWAY_TIMEOUT');
  span.finish('ok');
  const [exported, ...rest] = exporter.getFinishedSpans();
  assert.equal(rest.length, 0);
  assert.equal(exported?.name, 'demo.orders.v1.OrderService/GetOrder');
  assert.deepEqual(exported?.status, { code: SpanStatusCode.ERROR, message: 'GATEWAY_TIMEOUT' });
  assert.equal(exported?.attributes['error.type'], 'GATEWAY_TIMEOUT');
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
  span.finish('ok');
  server.finish('ok');
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
  server.finish('ok');
  assert.equal(never.exporter.getFinishedSpans().length, 0);
  await never.tracing.shutdown();

  const always = tracer(1);
  always.tracing.startRequest({}, 'GET rest', {}).finish('ok');
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

test('the OpenTelemetry API tracer records under a parent taken from the context', async () => {
  const { tracing, exporter } = tracer();
  const server = tracing.startRequest(
    { traceparent: `00-${TRACE}-${CLIENT_SPAN}-01` },
    'POST /graphql',
    {},
  );
  const span = tracing.tracer.startSpan(
    'custom',
    { kind: SpanKind.INTERNAL, attributes: { 'app.step': 1 } },
    trace.setSpan(ROOT_CONTEXT, server),
  );
  span.setAttributes({ 'app.more': 'yes' });
  span.addEvent('checkpoint', { n: 2 });
  span.recordException(new TypeError('boom'));
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  span.updateName('custom work');
  span.end();
  span.setAttribute('app.late', true); // after the end: ignored
  server.finish('ok');

  const [custom] = exporter.getFinishedSpans();
  assert.equal(custom?.name, 'custom work');
  assert.equal(custom?.spanContext().traceId, TRACE);
  assert.equal(custom?.parentSpanContext?.spanId, server.spanContext().spanId);
  assert.deepEqual(custom?.attributes, { 'app.step': 1, 'app.more': 'yes' });
  assert.deepEqual(
    custom?.events.map((e) => [e.name, e.attributes?.['n'] ?? e.attributes?.['exception.type']]),
    [
      ['checkpoint', 2],
      ['exception', 'TypeError'],
    ],
  );
  assert.deepEqual(custom?.status, { code: SpanStatusCode.ERROR, message: 'failed' });
  await tracing.shutdown();
});

test('the API tracer joins a remote parent, starts roots, and runs active spans', async () => {
  const { tracing, exporter } = tracer();
  const remote = trace.wrapSpanContext({
    traceId: TRACE,
    spanId: CLIENT_SPAN,
    traceFlags: 1,
    isRemote: true,
  });
  tracing.tracer.startSpan('under remote', {}, trace.setSpan(ROOT_CONTEXT, remote)).end();
  const answer = tracing.tracer.startActiveSpan('active root', (span) => {
    span.end();
    return 42;
  });
  assert.equal(answer, 42);
  const [underRemote, root] = exporter.getFinishedSpans();
  assert.equal(underRemote?.spanContext().traceId, TRACE);
  assert.equal(underRemote?.parentSpanContext?.spanId, CLIENT_SPAN);
  assert.equal(root?.name, 'active root');
  assert.equal(root?.parentSpanContext, undefined);
  assert.notEqual(root?.spanContext().traceId, TRACE);
  await tracing.shutdown();
});
