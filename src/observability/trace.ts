import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
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
 * spans for parsing and validation (GraphQL), Apollo Gateway's own planning, execution and fetch
 * spans nested under it, and a client span per backend call whose context travels in that
 * call's `traceparent`. https://www.w3.org/TR/trace-context/ and the semantic conventions for
 * HTTP, RPC and GraphQL: https://opentelemetry.io/docs/specs/semconv/
 */

const propagator = new W3CTraceContextPropagator();
const getter = {
  keys: (carrier: IncomingHttpHeaders) => Object.keys(carrier),
  get: (carrier: IncomingHttpHeaders, key: string) => carrier[key],
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
  /** An internal span (parse, validate) under the active context. */
  startInternal(name: string, parent: Context): Span;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  config: TracingConfig;
  /** Replaces the OTLP exporter (tests use an in-memory one, the bench a no-op one). */
  exporter?: SpanExporter;
}

/**
 * Builds the tracer and registers it as the process's global provider, context manager and
 * propagator, so Apollo Gateway's spans (it uses the global API) join our trees. One gateway per
 * process registers; `shutdown` releases the globals.
 */
export function createTracing(options: TracingOptions): Tracing {
  const { config } = options;
  const exporter =
    options.exporter ??
    new OTLPTraceExporter({
      url: config.endpoint,
      headers: config.headers,
    });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.service_name }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [
      // Tests read spans as soon as the request ends; production batches exports off the hot path.
      options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter),
    ],
  });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(propagator);
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
      propagator.inject(trace.setSpan(parent, span), headers, {
        set: (carrier, key, value) => (carrier[key] = value),
      });
      return { span, headers };
    },
    startInternal(name, parent) {
      return tracer.startSpan(name, { kind: SpanKind.INTERNAL }, parent);
    },
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
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
