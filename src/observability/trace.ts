import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type HrTime,
  type SpanContext,
  type SpanStatus,
} from '@opentelemetry/api';
import { ExportResultCode, TraceState, type InstrumentationScope } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { TracingConfig } from '../config/schema.ts';
import type { BackendCall } from '../kernel/observe.ts';
import { SpanQueue } from './span-export.ts';
import {
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  sampledAt,
} from './trace-context.ts';

/**
 * OpenTelemetry traces: a server span per request (its parent the client's W3C `traceparent`),
 * spans for parsing, validation, planning and execution (GraphQL), and a client span per backend
 * call whose context travels in that call's `traceparent`. https://www.w3.org/TR/trace-context/
 * and the semantic conventions for HTTP, RPC and GraphQL: https://opentelemetry.io/docs/specs/semconv/
 *
 * Spans are recorded here and handed to an OpenTelemetry `SpanExporter` (OTLP/HTTP, or the
 * test's in-memory one) as `ReadableSpan`s; the SDK's tracer is not used. Its generality (a
 * context object per parent, attribute limits and sanitising on every write, span processors,
 * its own metrics) made a traced request cost a sixth more CPU than an untraced one in the
 * bench; a gateway's spans are few and of known shape, and recording them this way costs a
 * fraction of that. The parent is passed explicitly for the same reason: a global
 * AsyncLocalStorage context manager hooks every promise on Node 20, so Apollo Gateway's own
 * spans stay no-ops and planning comes from its query-plan callback.
 */

/** `exporter: none`: spans are made (ids, propagation, sampling) and dropped at export. */
const DROP: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: () => Promise.resolve(),
};

const SCOPE: InstrumentationScope = { name: 'gateway' };
const NO_EVENTS: TimedEvent[] = [];
const NO_LINKS: [] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };

/** Epoch time as OpenTelemetry's [seconds, nanoseconds], from a `performance.now()` reading. */
const ORIGIN_MS = performance.timeOrigin;
function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

/**
 * One span. Unsampled spans keep their ids (they still propagate, flagged not sampled) and
 * record nothing.
 */
export class TraceSpan implements ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly attributes: Attributes;
  status: SpanStatus = UNSET;
  readonly parentSpanContext: SpanContext | undefined;
  readonly resource: Resource;
  readonly instrumentationScope = SCOPE;
  readonly events = NO_EVENTS;
  readonly links = NO_LINKS;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly #context: SpanContext;
  readonly #queue: SpanQueue | undefined;
  readonly #start = performance.now();
  #end = -1;

  constructor(
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    context: SpanContext,
    parent: SpanContext | undefined,
    resource: Resource,
    /** Where the span goes when it ends; none when it is not sampled. */
    queue: SpanQueue | undefined,
  ) {
    this.name = name;
    this.kind = kind;
    this.attributes = attributes;
    this.#context = context;
    this.parentSpanContext = parent;
    this.resource = resource;
    this.#queue = queue;
  }

  get traceId(): string {
    return this.#context.traceId;
  }

  get sampled(): boolean {
    return this.#queue !== undefined;
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  get startTime(): HrTime {
    return hrTime(ORIGIN_MS + this.#start);
  }

  get endTime(): HrTime {
    return hrTime(ORIGIN_MS + this.#end);
  }

  get duration(): HrTime {
    return hrTime(this.#end - this.#start);
  }

  get ended(): boolean {
    return this.#end >= 0;
  }

  setAttribute(key: string, value: AttributeValue): void {
    if (this.#queue && this.#end < 0) this.attributes[key] = value;
  }

  /**
   * Ends the span with the request's or call's outcome: anything but `ok` is an error, named
   * in `error.type`. Ending twice keeps the first end.
   */
  end(outcome: string, attributes?: Attributes): void {
    if (this.#end >= 0) return;
    this.#end = performance.now();
    if (!this.#queue) return;
    if (attributes) Object.assign(this.attributes, attributes);
    if (outcome !== 'ok') {
      this.status = { code: SpanStatusCode.ERROR, message: outcome };
      this.attributes['error.type'] = outcome;
    }
    this.#queue.push(this);
  }
}

export interface Tracing {
  /** The server span of a request, under the client's `traceparent` when it sent a valid one. */
  startRequest(headers: IncomingHttpHeaders, name: string, attributes: Attributes): TraceSpan;
  /** A client span for one backend call under `parent`, and the headers that carry it. */
  startCall(
    parent: TraceSpan,
    call: BackendCall,
  ): { span: TraceSpan; headers: Record<string, string> };
  /** An internal span (parse, validate, plan, execute) under `parent`. */
  startInternal(name: string, parent: TraceSpan): TraceSpan;
  /** Spans dropped because the export queue was full. */
  readonly dropped: number;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  config: TracingConfig;
  /** Replaces the OTLP exporter (tests use an in-memory one); spans are then sent as they end. */
  exporter?: SpanExporter;
  /** An export failed (the collector is down, say): the spans of that batch are lost. */
  onExportError?: (error: Error) => void;
}

export function createTracing(options: TracingOptions): Tracing {
  const { config } = options;
  const exporter =
    options.exporter ??
    (config.exporter === 'none'
      ? DROP
      : new OTLPTraceExporter({ url: config.endpoint, headers: config.headers }));
  const queue = new SpanQueue({
    exporter,
    immediate: options.exporter !== undefined,
    ...(options.onExportError ? { onError: options.onExportError } : {}),
  });
  const resource = resourceFromAttributes({ 'service.name': config.service_name });
  const ratio = config.sample_ratio;

  /** A span whose trace state, trace id and sampling decision are its parent's. */
  function child(
    parent: TraceSpan,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
  ): TraceSpan {
    const up = parent.spanContext();
    const context: SpanContext = {
      traceId: up.traceId,
      spanId: newSpanId(),
      traceFlags: up.traceFlags,
      ...(up.traceState ? { traceState: up.traceState } : {}),
    };
    return new TraceSpan(
      name,
      kind,
      attributes,
      context,
      up,
      resource,
      parent.sampled ? queue : undefined,
    );
  }

  return {
    startRequest(headers, name, attributes) {
      const remote = parseTraceparent(headers.traceparent);
      // Parent-based sampling: a caller's decision is followed, new traces are sampled at `ratio`.
      const traceId = remote?.traceId ?? newTraceId();
      const sampled = remote ? remote.sampled : sampledAt(traceId, ratio);
      const stateHeader = remote ? headers.tracestate : undefined;
      // Parsed and re-serialised: invalid members are dropped rather than passed to backends.
      let traceState =
        typeof stateHeader === 'string' && stateHeader.length > 0
          ? new TraceState(stateHeader)
          : undefined;
      if (traceState?.serialize() === '') traceState = undefined;
      const traceFlags = sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
      const parent: SpanContext | undefined = remote
        ? {
            traceId,
            spanId: remote.spanId,
            traceFlags,
            isRemote: true,
            ...(traceState ? { traceState } : {}),
          }
        : undefined;
      const context: SpanContext = {
        traceId,
        spanId: newSpanId(),
        traceFlags,
        ...(traceState ? { traceState } : {}),
      };
      return new TraceSpan(
        name,
        SpanKind.SERVER,
        attributes,
        context,
        parent,
        resource,
        sampled ? queue : undefined,
      );
    },
    startCall(parent, call) {
      const attributes: Attributes = {
        'gateway.backend': call.backend,
        'gateway.backend.kind': call.kind,
      };
      if (call.address) {
        const colon = call.address.lastIndexOf(':');
        attributes['server.address'] = colon < 0 ? call.address : call.address.slice(0, colon);
        if (colon >= 0) attributes['server.port'] = Number(call.address.slice(colon + 1));
      }
      let name: string;
      if (call.protocol === 'grpc') {
        const slash = call.operation.indexOf('/');
        attributes['rpc.system'] = 'grpc';
        attributes['rpc.service'] = call.operation.slice(0, slash);
        attributes['rpc.method'] = call.operation.slice(slash + 1);
        name = call.operation;
      } else {
        name = call.method ?? 'GET';
        attributes['http.request.method'] = name;
      }
      const span = child(parent, name, SpanKind.CLIENT, attributes);
      const context = span.spanContext();
      const headers: Record<string, string> = {
        traceparent: formatTraceparent(context.traceId, context.spanId, span.sampled),
      };
      if (context.traceState) headers.tracestate = context.traceState.serialize();
      return { span, headers };
    },
    startInternal(name, parent) {
      return child(parent, name, SpanKind.INTERNAL, {});
    },
    get dropped() {
      return queue.dropped;
    },
    async shutdown() {
      await queue.shutdown();
    },
  };
}
