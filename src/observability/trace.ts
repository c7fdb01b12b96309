import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingConfig } from '../config/schema.ts';
import type { BackendCall } from '../kernel/observe.ts';

/**
 * OpenTelemetry traces: a server span per request (its parent the client's W3C `traceparent`),
 * spans for parsing, validation, planning and execution (GraphQL), and a client span per backend
 * call whose context travels in that call's `traceparent`. https://www.w3.org/TR/trace-context/ and the semantic conventions for
 * HTTP, RPC and GraphQL: https://opentelemetry.io/docs/specs/semconv/
 */

const propagator = new W3CTraceContextPropagator();
const setter = {
  set(carrier: Record<string, string>, key: string, value: string) {
    carrier[key] = value;
  },
};
const getter = {
  keys: (carrier: IncomingHttpHeaders) => Object.keys(carrier),
  get: (carrier: IncomingHttpHeaders, key: string) => carrier[key],
};

/** `exporter: none`: spans are made (ids, propagation, sampling) and dropped at export. */
const DROP: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: () => Promise.resolve(),
};

export interface Tracing {
  /** The server span of a request and the context to run it in. */
  startRequest(
    headers: IncomingHttpHeaders,
    name: string,
    attributes: Attributes,
  ): { span: Span; context: Context };
  /** A client span for one backend call under `parent`, and the headers that carry it. */
  startCall(parent: Context, call: BackendCall): { span: Span; headers: Record<string, string> };
  /** An internal span (parse, validate, plan, execute) under `parent`, and its context. */
  startInternal(name: string, parent: Context): { span: Span; context: Context };
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  config: TracingConfig;
  /** Replaces the OTLP exporter (tests use an in-memory one, the bench a no-op one). */
  exporter?: SpanExporter;
}

/**
 * Builds the tracer. Parents are passed explicitly (the request context keeps its spans), not
 * through a global AsyncLocalStorage context manager: on Node 20 that manager hooks every
 * promise, which cost a fifth of the gateway's throughput in the bench. For the same reason the
 * provider is not registered globally, so Apollo Gateway's own spans stay no-ops; the plugin
 * and the gateway's query-plan callback give planning and execution spans of our own.
 */
export function createTracing(options: TracingOptions): Tracing {
  const { config } = options;
  const exporter =
    options.exporter ??
    (config.exporter === 'none'
      ? DROP
      : new OTLPTraceExporter({ url: config.endpoint, headers: config.headers }));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.service_name }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [
      // Tests read spans as soon as the request ends; production batches exports off the hot path.
      options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter),
    ],
  });
  const tracer: Tracer = provider.getTracer('gateway');

  return {
    startRequest(headers, name, attributes) {
      const parent = propagator.extract(ROOT_CONTEXT, headers, getter);
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
      return { span, context: trace.setSpan(parent, span) };
    },
    startCall(parent, call) {
      const [host, port] = call.address?.split(':') ?? [];
      const attributes: Attributes = {
        'gateway.backend': call.backend,
        'gateway.backend.kind': call.kind,
        ...(host ? { 'server.address': host } : {}),
        ...(port ? { 'server.port': Number(port) } : {}),
      };
      let name: string;
      if (call.protocol === 'grpc') {
        const [service = '', method = ''] = call.operation.split('/');
        Object.assign(attributes, {
          'rpc.system': 'grpc',
          'rpc.service': service,
          'rpc.method': method,
        });
        name = call.operation;
      } else {
        attributes['http.request.method'] = call.method ?? 'GET';
        name = call.method ?? 'GET';
      }
      const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
      const headers: Record<string, string> = {};
      propagator.inject(trace.setSpan(parent, span), headers, setter);
      return { span, headers };
    },
    startInternal(name, parent) {
      const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL }, parent);
      return { span, context: trace.setSpan(parent, span) };
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}

/** Ends a span with the call's or request's outcome: anything but `ok` is an error. */
export function endSpan(span: Span, outcome: string, attributes: Attributes = {}): void {
  span.setAttributes(attributes);
  if (outcome !== 'ok') {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    span.setAttribute('error.type', outcome);
  }
  span.end();
}

/** The trace id a valid `traceparent` names, for log lines when tracing is off. */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const match = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent.trim());
  return match && !/^0+$/.test(match[1] as string) ? match[1] : undefined;
}
