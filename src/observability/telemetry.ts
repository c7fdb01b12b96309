import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { MetricsConfig } from '../config/schema.ts';
import type { RequestContext, RequestFacts } from '../kernel/context.ts';
import { ErrorCode } from '../kernel/errors.ts';
import type { BackendCall, CallObserver, CallRecord } from '../kernel/observe.ts';
import { createMetrics, LabelBudget, type CacheName, type GatewayMetrics } from './metrics.ts';
import { traceIdOf } from './trace-context.ts';
import type { Tracing, TraceSpan } from './trace.ts';

/**
 * Everything an operator sees of a request, in one place: the log line, the metrics and the
 * spans. The app starts a request here and ends it when the answer is written; backend calls
 * report through the `CallObserver` contract every request context carries.
 */

export interface TelemetryOptions {
  logger: Logger;
  /** One info line per request. */
  logRequests: boolean;
  metrics: MetricsConfig;
  tracing?: Tracing;
}

interface RequestState {
  span?: TraceSpan;
  traceId?: string;
  /** GraphQL execution and planning spans, open between the plugin's hooks. */
  execution?: TraceSpan;
  planning?: TraceSpan;
}

/** A span of a phase of the request (parse, validate), or nothing to finish when not traced. */
export interface Phase {
  finish(outcome: string): void;
}
const UNTRACED: Phase = { finish() {} };
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** A client's self-declared name (Apollo's convention): a label, never an identity. */
const CLIENT_HEADER = 'apollographql-client-name';
const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

const tenths = (ms: number) => Math.round(ms * 10) / 10;

/** One backend call in flight: a class, not a closure per call, on this path taken ~10 times a request. */
class ObservedCall implements CallRecord {
  readonly headers: Readonly<Record<string, string>>;
  readonly #telemetry: Telemetry;
  readonly #ctx: RequestContext;
  readonly #call: BackendCall;
  readonly #span: TraceSpan | undefined;
  readonly #startedAt = performance.now();

  constructor(
    telemetry: Telemetry,
    ctx: RequestContext,
    call: BackendCall,
    span: TraceSpan | undefined,
    headers: Readonly<Record<string, string>>,
  ) {
    this.#telemetry = telemetry;
    this.#ctx = ctx;
    this.#call = call;
    this.#span = span;
    this.headers = headers;
  }

  end(outcome: string, status?: number): void {
    const call = this.#call;
    const ms = performance.now() - this.#startedAt;
    this.#ctx.facts.calls.push({ backend: call.backend, kind: call.kind, ms: tenths(ms), outcome });
    this.#telemetry.metrics?.recordCall(call.backend, call.kind, outcome, ms / 1000);
    if (this.#span) {
      if (status !== undefined)
        this.#span.setAttribute(
          call.protocol === 'grpc' ? 'rpc.grpc.status_code' : 'http.response.status_code',
          status,
        );
      this.#span.finish(outcome);
    }
  }
}

export class Telemetry implements CallObserver {
  readonly metrics?: GatewayMetrics;
  readonly tracing?: Tracing;
  readonly #logger: Logger;
  readonly #logRequests: boolean;
  readonly #operations: LabelBudget;
  readonly #clients: LabelBudget;
  // Keyed by the request's facts, not the context: Apollo Server hands resolvers and data
  // sources a shallow copy of the context, which shares `facts` with the original.
  readonly #state = new WeakMap<RequestFacts, RequestState>();

  constructor(options: TelemetryOptions) {
    this.#logger = options.logger;
    this.#logRequests = options.logRequests;
    if (options.metrics.enabled)
      this.metrics = createMetrics({ processMetrics: options.metrics.process });
    if (options.tracing) this.tracing = options.tracing;
    this.#operations = new LabelBudget(options.metrics.max_operations);
    this.#clients = new LabelBudget(options.metrics.max_clients);
  }

  /**
   * A request arrives: it gets this observer, its client name, its server span (the client's
   * `traceparent` as parent) and, with tracing off, the client's trace context passed on as is,
   * so backends still join the client's trace.
   */
  beginRequest(ctx: RequestContext, spanName: string, attributes: Record<string, string>): void {
    ctx.observer = this;
    const client = ctx.headers[CLIENT_HEADER];
    if (typeof client === 'string' && CLIENT_NAME.test(client)) ctx.facts.client = client;
    const state: RequestState = {};
    if (this.tracing) {
      state.span = this.tracing.startRequest(ctx.headers, spanName, attributes);
      state.traceId = state.span.traceId;
    } else {
      state.traceId = traceIdOf(ctx.headers.traceparent);
      if (state.traceId) {
        ctx.upstreamHeaders.traceparent = String(ctx.headers.traceparent);
        const tracestate = ctx.headers.tracestate;
        if (typeof tracestate === 'string') ctx.upstreamHeaders.tracestate = tracestate;
      }
    }
    this.#state.set(ctx.facts, state);
  }

  /** A span under the request's (parse, validate), to end with its outcome. */
  phase(ctx: RequestContext, name: string): Phase {
    const parent = this.#state.get(ctx.facts)?.span;
    return parent && this.tracing ? this.tracing.startInternal(name, parent) : UNTRACED;
  }

  /** GraphQL execution begins with planning; backend calls nest under execution from here. */
  beginExecution(ctx: RequestContext): void {
    const state = this.#state.get(ctx.facts);
    if (!this.tracing || !state?.span) return;
    state.execution = this.tracing.startInternal('graphql.execute', state.span);
    state.planning = this.tracing.startInternal('graphql.plan', state.execution);
  }

  /** The query plan is ready (Apollo Gateway's callback), from its cache or just planned. */
  endPlanning(ctx: RequestContext, cached: boolean): void {
    this.recordCache('query_plan', cached);
    const planning = this.#state.get(ctx.facts)?.planning;
    planning?.setAttribute('gateway.cache_hit', cached);
    planning?.finish('ok');
  }

  /** A lookup in one of the gateway's caches, for `gateway_cache_lookups_total`. */
  recordCache(cache: CacheName, hit: boolean): void {
    this.metrics?.recordCacheLookup(cache, hit);
  }

  endExecution(ctx: RequestContext, outcome: string): void {
    const state = this.#state.get(ctx.facts);
    // Planning that never finished failed with execution (spans ignore a second end).
    state?.planning?.finish(outcome);
    state?.execution?.finish(outcome);
  }

  start(ctx: RequestContext, call: BackendCall): CallRecord {
    if (this.tracing) {
      const state = this.#state.get(ctx.facts);
      const parent = state?.execution ?? state?.span;
      if (parent) {
        const { span, headers } = this.tracing.startCall(parent, call);
        return new ObservedCall(this, ctx, call, span, headers);
      }
    }
    return new ObservedCall(this, ctx, call, undefined, NO_HEADERS);
  }

  /**
   * The answer is written: one log line, the request metrics, the server span ended. `outcome`
   * is `ok` or the error code the client saw first.
   */
  endRequest(ctx: RequestContext, status: number, outcome: string): void {
    const { facts } = ctx;
    const ms = performance.now() - ctx.startedAt;
    const state = this.#state.get(facts);
    const client = facts.client ?? '(unknown)';
    if (this.metrics) {
      const operation =
        facts.operationName ?? (facts.surface === 'graphql' ? '(anonymous)' : ctx.path);
      const clientLabel = this.#clients.label(client);
      this.metrics.recordRequest(
        facts.surface,
        clientLabel,
        this.#operations.label(operation),
        outcome,
        ms / 1000,
      );
      if (outcome === ErrorCode.RATE_LIMITED)
        this.metrics.recordRateLimited(facts.surface, clientLabel);
      if (facts.cost !== undefined) this.metrics.recordCost(clientLabel, facts.cost);
    }
    const span = state?.span;
    if (span) {
      if (facts.operationName) span.setAttribute('graphql.operation.name', facts.operationName);
      span.setAttribute(
        facts.surface === 'grpc' ? 'rpc.grpc.status_code' : 'http.response.status_code',
        status,
      );
      span.finish(outcome);
    }
    if (this.#logRequests) {
      this.#logger.info(
        {
          correlationId: ctx.correlationId,
          ...(state?.traceId ? { traceId: state.traceId } : {}),
          client,
          surface: facts.surface,
          method: ctx.method,
          path: ctx.path,
          ...(facts.operationName ? { operationName: facts.operationName } : {}),
          ...(facts.documentHash ? { documentHash: facts.documentHash } : {}),
          status,
          durationMs: tenths(ms),
          ...(facts.cost !== undefined ? { cost: facts.cost } : {}),
          calls: facts.calls,
          ...(facts.errorCodes.size > 0 ? { errors: [...facts.errorCodes] } : {}),
        },
        'request',
      );
    }
  }

  /** Composition reloads, for `gateway_supergraph_reloads_total`. */
  recordReload(ok: boolean): void {
    this.metrics?.recordReload(ok);
  }

  /** A circuit breaker changed state, for `gateway_circuit_breaker_state`. */
  recordBreaker(backend: string, endpoint: string, state: 'closed' | 'open' | 'half_open'): void {
    this.metrics?.recordBreaker(backend, endpoint, state);
  }

  async close(): Promise<void> {
    await this.tracing?.shutdown();
  }
}
