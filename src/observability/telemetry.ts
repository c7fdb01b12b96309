import { performance } from 'node:perf_hooks';
import type { Context, Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { MetricsConfig } from '../config/schema.ts';
import type { RequestContext, RequestFacts } from '../kernel/context.ts';
import { ErrorCode } from '../kernel/errors.ts';
import type { BackendCall, CallObserver, CallRecord } from '../kernel/observe.ts';
import { createMetrics, LabelBudget, type GatewayMetrics } from './metrics.ts';
import { endSpan, traceIdOf, type Tracing } from './trace.ts';

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
  span?: Span;
  context?: Context;
  traceId?: string;
  /** GraphQL execution and planning spans, open between the plugin's hooks. */
  execution?: { span: Span; context: Context };
  planning?: Span;
}

/** A client's self-declared name (Apollo's convention): a label, never an identity. */
const CLIENT_HEADER = 'apollographql-client-name';
const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

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
      const started = this.tracing.startRequest(ctx.headers, spanName, attributes);
      state.span = started.span;
      state.context = started.context;
      if (started.span.isRecording()) state.traceId = started.span.spanContext().traceId;
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

  /** A span under the request's (parse, validate); returns how to end it. */
  phase(ctx: RequestContext, name: string): (outcome: string) => void {
    const parent = this.#state.get(ctx.facts)?.context;
    if (!this.tracing || !parent) return () => {};
    const { span } = this.tracing.startInternal(name, parent);
    return (outcome) => endSpan(span, outcome);
  }

  /** GraphQL execution begins with planning; backend calls nest under execution from here. */
  beginExecution(ctx: RequestContext): void {
    const state = this.#state.get(ctx.facts);
    if (!this.tracing || !state?.context) return;
    state.execution = this.tracing.startInternal('graphql.execute', state.context);
    state.planning = this.tracing.startInternal('graphql.plan', state.execution.context).span;
  }

  /** The query plan is ready (Apollo Gateway's callback). */
  endPlanning(ctx: RequestContext): void {
    const state = this.#state.get(ctx.facts);
    if (state?.planning) endSpan(state.planning, 'ok');
    if (state) delete state.planning;
  }

  endExecution(ctx: RequestContext, outcome: string): void {
    const state = this.#state.get(ctx.facts);
    if (state?.planning) endSpan(state.planning, outcome);
    if (state?.execution) endSpan(state.execution.span, outcome);
    if (state) {
      delete state.planning;
      delete state.execution;
    }
  }

  start(ctx: RequestContext, call: BackendCall): CallRecord {
    const startedAt = performance.now();
    let span: Span | undefined;
    let headers: Record<string, string> = {};
    if (this.tracing) {
      const state = this.#state.get(ctx.facts);
      const parent = state?.execution?.context ?? state?.context;
      if (parent) ({ span, headers } = this.tracing.startCall(parent, call));
    }
    return {
      headers,
      end: (outcome, status) => {
        const seconds = (performance.now() - startedAt) / 1000;
        ctx.facts.calls.push({
          backend: call.backend,
          kind: call.kind,
          ms: Math.round(seconds * 10_000) / 10,
          outcome,
        });
        if (this.metrics) {
          const labels = { backend: call.backend, kind: call.kind, outcome };
          this.metrics.backendCalls.inc(labels);
          this.metrics.backendDuration.observe(labels, seconds);
        }
        if (span) {
          const statusAttribute =
            call.protocol === 'grpc' ? 'rpc.grpc.status_code' : 'http.response.status_code';
          endSpan(span, outcome, status === undefined ? {} : { [statusAttribute]: status });
        }
      },
    };
  }

  /**
   * The answer is written: one log line, the request metrics, the server span ended. `outcome`
   * is `ok` or the error code the client saw first.
   */
  endRequest(ctx: RequestContext, status: number, outcome: string): void {
    const { facts } = ctx;
    const seconds = (performance.now() - ctx.startedAt) / 1000;
    const state = this.#state.get(ctx.facts);
    const client = facts.client ?? '(unknown)';
    const operation =
      facts.operationName ?? (facts.surface === 'graphql' ? '(anonymous)' : ctx.path);
    if (this.metrics) {
      const labels = {
        surface: facts.surface,
        client: this.#clients.label(client),
        operation: this.#operations.label(operation),
        outcome,
      };
      this.metrics.requests.inc(labels);
      this.metrics.requestDuration.observe(labels, seconds);
      if (outcome === ErrorCode.RATE_LIMITED)
        this.metrics.rateLimited.inc({ surface: facts.surface, client: labels.client });
      if (facts.cost !== undefined)
        this.metrics.cost.observe({ client: labels.client }, facts.cost);
    }
    if (state?.span) {
      if (facts.operationName)
        state.span.setAttribute('graphql.operation.name', facts.operationName);
      endSpan(state.span, outcome, {
        [facts.surface === 'grpc' ? 'rpc.grpc.status_code' : 'http.response.status_code']: status,
      });
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
          durationMs: Math.round(seconds * 10_000) / 10,
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
    this.metrics?.reloads.inc({ outcome: ok ? 'success' : 'failure' });
  }

  async close(): Promise<void> {
    await this.tracing?.shutdown();
  }
}
