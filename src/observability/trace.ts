import {
  context,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, TraceState, type InstrumentationScope } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { TracingConfig } from '../config/schema.ts';
import type { BackendTarget } from '../kernel/outbound.ts';
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
const NO_LINKS: Link[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };

/** Epoch time as OpenTelemetry's [seconds, nanoseconds], from a `performance.now()` reading. */
const ORIGIN_MS = performance.timeOrigin;
function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

/**
 * A time given through the API, as a `performance.now()` reading. As in the SDK, a number
 * below the time origin is a `performance.now()` value and one above it epoch milliseconds.
 */
function perfNow(time: TimeInput | undefined): number {
  if (time === undefined) return performance.now();
  if (Array.isArray(time)) return time[0] * 1000 + time[1] / 1e6 - ORIGIN_MS;
  const ms = time instanceof Date ? time.getTime() : time;
  return ms < ORIGIN_MS ? ms : ms - ORIGIN_MS;
}

/**
 * One span: an OpenTelemetry API `Span` that code can record on, and the `ReadableSpan` the
 * exporters read. Unsampled spans keep their ids (they still propagate, flagged not sampled)
 * and record nothing.
 */
export class TraceSpan implements Span, ReadableSpan {
  name: string;
  readonly kind: SpanKind;
  readonly attributes: Attributes;
  status: SpanStatus = UNSET;
  readonly parentSpanContext: SpanContext | undefined;
  readonly resource: Resource;
  readonly instrumentationScope = SCOPE;
  // Shared empty lists until something is added: most spans never get an event or a link.
  events: TimedEvent[] = NO_EVENTS;
  links: Link[] = NO_LINKS;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly #context: SpanContext;
  readonly #queue: SpanQueue | undefined;
  readonly #start: number;
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
    startTime?: TimeInput,
  ) {
    this.name = name;
    this.kind = kind;
    this.attributes = attributes;
    this.#context = context;
    this.parentSpanContext = parent;
    this.resource = resource;
    this.#queue = queue;
    this.#start = perfNow(startTime);
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

  isRecording(): boolean {
    return this.#queue !== undefined && this.#end < 0;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.isRecording()) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    if (this.isRecording()) Object.assign(this.attributes, attributes);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (!this.isRecording()) return this;
    const timed = isTimeInput(attributesOrTime);
    const event: TimedEvent = {
      name,
      time: hrTime(ORIGIN_MS + perfNow(timed ? attributesOrTime : time)),
      ...(!timed && attributesOrTime ? { attributes: attributesOrTime } : {}),
    };
    if (this.events === NO_EVENTS) this.events = [];
    this.events.push(event);
    return this;
  }

  addLink(link: Link): this {
    return this.addLinks([link]);
  }

  addLinks(links: Link[]): this {
    if (!this.isRecording()) return this;
    if (this.links === NO_LINKS) this.links = [];
    this.links.push(...links);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.isRecording()) this.status = status;
    return this;
  }

  updateName(name: string): this {
    if (this.isRecording()) this.name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const error = typeof exception === 'string' ? { message: exception } : exception;
    this.addEvent(
      'exception',
      {
        'exception.type': String(('name' in error && error.name) || 'Error'),
        'exception.message': String(error.message ?? ''),
        ...('stack' in error && error.stack ? { 'exception.stacktrace': error.stack } : {}),
      },
      time,
    );
  }

  /** Ends the span as it stands. Ending twice keeps the first end. */
  end(endTime?: TimeInput): void {
    if (this.#end >= 0) return;
    this.#end = perfNow(endTime);
    this.#queue?.push(this);
  }

  /**
   * Ends the span with the request's or call's outcome: anything but `ok` is an error, named in
   * `error.type`.
   */
  finish(outcome: string, attributes?: Attributes): void {
    if (this.isRecording()) {
      if (attributes) Object.assign(this.attributes, attributes);
      if (outcome !== 'ok') {
        this.status = { code: SpanStatusCode.ERROR, message: outcome };
        this.attributes['error.type'] = outcome;
      }
    }
    this.end();
  }
}

function isTimeInput(value: unknown): value is TimeInput {
  return typeof value === 'number' || value instanceof Date || Array.isArray(value);
}

export interface Tracing {
  /** The server span of a request, under the client's `traceparent` when it sent a valid one. */
  startRequest(headers: IncomingHttpHeaders, name: string, attributes: Attributes): TraceSpan;
  /** A client span for one backend call under `parent`, and the headers that carry it. */
  startCall(
    parent: TraceSpan,
    call: BackendTarget,
  ): { span: TraceSpan; headers: Record<string, string> };
  /** An internal span (parse, validate, plan, execute) under `parent`. */
  startInternal(name: string, parent: TraceSpan): TraceSpan;
  /**
   * The same spans through the OpenTelemetry API, for code that records its own: parents come
   * from the context passed (`trace.setSpan(context, span)`), as no context manager is active.
   */
  readonly tracer: Tracer;
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

  /**
   * A span under `parent` (local or remote), whose trace, trace state and sampling decision are
   * the parent's; without a parent, a new trace sampled at `ratio` (parent-based sampling).
   */
  function open(
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    parent: SpanContext | undefined,
    startTime?: TimeInput,
  ): TraceSpan {
    const traceId = parent?.traceId ?? newTraceId();
    const sampled = parent
      ? (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED
      : sampledAt(traceId, ratio);
    const context: SpanContext = {
      traceId,
      spanId: newSpanId(),
      traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
      ...(parent?.traceState ? { traceState: parent.traceState } : {}),
    };
    return new TraceSpan(
      name,
      kind,
      attributes,
      context,
      parent,
      resource,
      sampled ? queue : undefined,
      startTime,
    );
  }

  return {
    startRequest(headers, name, attributes) {
      const remote = parseTraceparent(headers.traceparent);
      if (!remote) return open(name, SpanKind.SERVER, attributes, undefined);
      // Parsed and re-serialised: invalid members are dropped rather than passed to backends.
      const stateHeader = headers.tracestate;
      let traceState =
        typeof stateHeader === 'string' && stateHeader.length > 0
          ? new TraceState(stateHeader)
          : undefined;
      if (traceState?.serialize() === '') traceState = undefined;
      const parent: SpanContext = {
        traceId: remote.traceId,
        spanId: remote.spanId,
        traceFlags: remote.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
        isRemote: true,
        ...(traceState ? { traceState } : {}),
      };
      return open(name, SpanKind.SERVER, attributes, parent);
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
      const span = open(name, SpanKind.CLIENT, attributes, parent.spanContext());
      const context = span.spanContext();
      const headers: Record<string, string> = {
        traceparent: formatTraceparent(context.traceId, context.spanId, span.sampled),
      };
      if (context.traceState) headers.tracestate = context.traceState.serialize();
      return { span, headers };
    },
    startInternal(name, parent) {
      return open(name, SpanKind.INTERNAL, {}, parent.spanContext());
    },
    tracer: new GatewayTracer((name, options, parent) =>
      open(
        name,
        options.kind ?? SpanKind.INTERNAL,
        { ...options.attributes },
        options.root ? undefined : parent,
        options.startTime,
      ),
    ),
    get dropped() {
      return queue.dropped;
    },
    async shutdown() {
      await queue.shutdown();
    },
  };
}

/** The OpenTelemetry API's `Tracer` over the gateway's spans. */
class GatewayTracer implements Tracer {
  readonly #open: (name: string, options: SpanOptions, parent: SpanContext | undefined) => Span;

  constructor(open: (name: string, options: SpanOptions, parent: SpanContext | undefined) => Span) {
    this.#open = open;
  }

  startSpan(name: string, options: SpanOptions = {}, parentContext?: Context): Span {
    const parent = trace.getSpanContext(parentContext ?? context.active());
    const span = this.#open(
      name,
      options,
      parent && isSpanContextValid(parent) ? parent : undefined,
    );
    if (options.links?.length) span.addLinks(options.links);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    parentContext: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = rest.length > 1 ? (rest[0] as SpanOptions) : {};
    const parentContext = rest.length > 2 ? (rest[1] as Context) : context.active();
    const span = this.startSpan(name, options, parentContext);
    return context.with(trace.setSpan(parentContext, span), () => fn(span)) as ReturnType<F>;
  }
}
