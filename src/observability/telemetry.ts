import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { MetricsConfig } from '../config/schema.ts';
import {
  channels,
  type ApqStoreEvent,
  type CacheEvent,
  type UpstreamNotice,
  type Deduplicated,
  type Exchange,
  type GraphQLEvent,
  type LimitStoreEvent,
  type LoadEvent,
  type ReloadDone,
  type RequestEnd,
  type RequestStart,
} from '../kernel/channels.ts';
import type { AppScope, RequestContext, RequestFacts } from '../kernel/context.ts';
import { createMetrics, LabelBudget, type GatewayMetrics } from './metrics.ts';
import { traceIdOf } from './trace-context.ts';
import type { Tracing, TraceSpan } from './trace.ts';

/** The least time between two `APQ store unavailable` warnings. */
const APQ_WARNING_INTERVAL_MS = 60_000;

/**
 * Everything an operator sees of a request, in one place: the log line, the metrics and the
 * spans. Nothing on the request path calls it: it subscribes to what the path publishes on
 * diagnostics_channel (kernel/channels.ts), keeps to its own app's requests, and unsubscribes
 * when closed.
 */

export interface TelemetryOptions {
  /** The app whose requests it observes. */
  scope: AppScope;
  /** The access log (one info line per request). */
  logger: Logger;
  /** Operational lines: circuits opening and closing, the limit store going and coming back. */
  events: Logger;
  /** One info line per request. */
  logRequests: boolean;
  metrics: MetricsConfig;
  tracing?: Tracing;
}

interface RequestState {
  span?: TraceSpan;
  traceId?: string;
  /** The client's trace context, passed on as is when the gateway records no spans. */
  traceparent?: string;
  tracestate?: string;
  /** Spans of GraphQL phases, open between their start and end events. */
  parse?: TraceSpan;
  validate?: TraceSpan;
  execution?: TraceSpan;
  planning?: TraceSpan;
  /**
   * Of an operation of a batch: its HTTP request's state, which counts its calls and writes the
   * line. The operation's own state holds only its GraphQL phase spans, so operations running
   * side by side never end each other's spans.
   */
  request?: RequestState;
  /** Backend call attempts started and not yet ended. */
  open: number;
  /**
   * The answer is written but calls are still ending (a proxied body streams to its last byte
   * before its call ends): the request's line waits for them, so it lists every call.
   */
  ending?: { status: number; outcome: string; ms: number };
}

/** One backend call attempt in flight. */
interface CallState {
  readonly request: RequestState;
  readonly startedAt: number;
  readonly span: TraceSpan | undefined;
}

/** A client's self-declared name (Apollo's convention): a label, never an identity. */
const CLIENT_HEADER = 'apollographql-client-name';
const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

const tenths = (ms: number) => Math.round(ms * 10) / 10;

/** One operation of a batch, in its request's line. */
function operationLine(facts: RequestFacts): Record<string, unknown> {
  return {
    ...(facts.operationName ? { operationName: facts.operationName } : {}),
    ...(facts.documentHash ? { documentHash: facts.documentHash } : {}),
    ...(facts.cost !== undefined ? { cost: facts.cost } : {}),
    ...(facts.rateLimited !== undefined ? { rateLimited: facts.rateLimited } : {}),
    ...(facts.errorCodes.size > 0 ? { errors: [...facts.errorCodes] } : {}),
  };
}

export class Telemetry {
  readonly metrics?: GatewayMetrics;
  readonly tracing?: Tracing;
  readonly #scope: AppScope;
  readonly #logger: Logger;
  readonly #events: Logger;
  readonly #logRequests: boolean;
  /** Operation label budgets per surface: REST paths never crowd GraphQL operations out. */
  readonly #operations = new Map<string, LabelBudget>();
  readonly #maxOperations: number;
  readonly #clients: LabelBudget;
  // Keyed by the request's facts, not the context: Apollo Server hands resolvers and data
  // sources a shallow copy of the context, which shares `facts` with the original.
  readonly #state = new WeakMap<RequestFacts, RequestState>();
  readonly #calls = new WeakMap<Exchange, CallState>();
  readonly #unsubscribe: (() => void)[] = [];
  /** When the last `APQ store unavailable` warning was written, and how many were held back. */
  #apqWarnedAt = -Infinity;
  #apqWarningsHeld = 0;
  #apqWarnedDown = false;

  constructor(options: TelemetryOptions) {
    this.#scope = options.scope;
    this.#logger = options.logger;
    this.#events = options.events;
    this.#logRequests = options.logRequests;
    if (options.metrics.enabled)
      this.metrics = createMetrics({ processMetrics: options.metrics.process });
    if (options.tracing) this.tracing = options.tracing;
    this.#maxOperations = options.metrics.max_operations;
    this.#clients = new LabelBudget(options.metrics.max_clients);
    this.#subscribe();
  }

  #subscribe(): void {
    const on = <T>(
      channel: {
        subscribe(fn: (m: unknown) => void): void;
        unsubscribe(fn: (m: unknown) => void): unknown;
      },
      fn: (message: T) => void,
    ) => {
      const listener = (message: unknown) => fn(message as T);
      channel.subscribe(listener);
      this.#unsubscribe.push(() => channel.unsubscribe(listener));
    };
    on<RequestStart>(channels.requestStart, (m) => {
      if (m.ctx.scope === this.#scope) this.#beginRequest(m);
    });
    on<RequestEnd>(channels.requestEnd, (m) => this.#endRequest(m.ctx, m.status, m.outcome));
    on<GraphQLEvent>(channels.graphql, (m) => this.#graphql(m));
    on<UpstreamNotice>(channels.upstream, (m) => this.#upstream(m));
    on<LoadEvent>(channels.load, (m) => {
      if (m.scope !== this.#scope || !this.metrics) return;
      if (m.type === 'level') this.metrics.recordLoad(m.gate, m.name, m.inFlight, m.queued);
      else this.metrics.recordShed(m.gate, m.name, m.reason);
    });
    on<ReloadDone>(channels.reload, (m) => {
      if (m.scope === this.#scope) this.metrics?.recordReload(m.ok);
    });
    on<LimitStoreEvent>(channels.limitStore, (m) => {
      if (m.scope === this.#scope) this.#limitStore(m);
    });
    on<ApqStoreEvent>(channels.apqStore, (m) => {
      if (m.scope === this.#scope) this.#apqStore(m);
    });
    on<CacheEvent>(channels.cache, (m) => {
      if (m.scope === this.#scope) this.#cache(m);
    });
    on<Exchange>(channels.call.start, (m) => this.#startCall(m));
    on<Exchange>(channels.call.asyncEnd, (m) => this.#endCall(m));
    on<Deduplicated>(channels.dedup, (m) => this.#deduplicated(m));
  }

  /**
   * A request arrives: its client name, its server span (the client's `traceparent` as parent)
   * and, with tracing off, the client's trace context kept to pass on as is, so backends still
   * join the client's trace (W3C Trace Context asks that of intermediaries that do not trace).
   */
  #beginRequest({ ctx, name, attributes }: RequestStart): void {
    // With clients configured, identifyClient names the client from what it verified: a header
    // never names a request's client there, so the label stays the configured ids.
    const client = ctx.snapshot.clients.size > 0 ? undefined : ctx.headers[CLIENT_HEADER];
    if (typeof client === 'string' && CLIENT_NAME.test(client)) ctx.facts.client = client;
    const state: RequestState = { open: 0 };
    if (this.tracing) {
      state.span = this.tracing.startRequest(ctx.headers, name, attributes);
      state.traceId = state.span.traceId;
    } else {
      state.traceId = traceIdOf(ctx.headers.traceparent);
      if (state.traceId) {
        state.traceparent = String(ctx.headers.traceparent);
        const tracestate = ctx.headers.tracestate;
        if (typeof tracestate === 'string') state.tracestate = tracestate;
      }
    }
    this.#state.set(ctx.facts, state);
  }

  /**
   * A request's state; an operation of a batch gets its own on its first event, under its
   * request's server span.
   */
  #stateOf(ctx: RequestContext): RequestState | undefined {
    const own = this.#state.get(ctx.facts);
    if (own || !ctx.parent) return own;
    const request = this.#state.get(ctx.parent.facts);
    if (!request) return undefined;
    const { span, traceId, traceparent, tracestate } = request;
    const state: RequestState = { span, traceId, traceparent, tracestate, request, open: 0 };
    this.#state.set(ctx.facts, state);
    return state;
  }

  #graphql(event: GraphQLEvent): void {
    const state = this.#stateOf(event.ctx);
    if (!state) return;
    if ('cache' in event) {
      this.metrics?.recordCacheLookup(event.cache, event.hit);
      if (event.cache === 'query_plan')
        state.planning?.setAttribute('gateway.cache_hit', event.hit);
      return;
    }
    const { phase, outcome } = event;
    if (outcome === undefined) {
      if (!this.tracing || !state.span) return;
      if (phase === 'execute') {
        // Execution begins with planning; backend calls nest under execution from here.
        state.execution = this.tracing.startInternal('graphql.execute', state.span);
        state.planning = this.tracing.startInternal('graphql.plan', state.execution);
      } else if (phase === 'parse' || phase === 'validate') {
        state[phase] = this.tracing.startInternal(`graphql.${phase}`, state.span);
      }
      return;
    }
    if (phase === 'execute') {
      // Planning that never finished failed with execution (spans ignore a second end).
      state.planning?.finish(outcome);
      state.execution?.finish(outcome);
    } else if (phase === 'plan') state.planning?.finish(outcome);
    else state[phase]?.finish(outcome);
  }

  /** An attempt starts: its span, and the trace context that goes out with it. */
  #startCall(exchange: Exchange): void {
    const ctx = exchange.ctx;
    const state = ctx && this.#stateOf(ctx);
    if (!state) return;
    let span: TraceSpan | undefined;
    const parent = state.execution ?? state.span;
    if (this.tracing && parent) {
      const started = this.tracing.startCall(parent, exchange.target);
      span = started.span;
      Object.assign(exchange.headers, started.headers);
    } else if (state.traceparent) {
      exchange.headers.traceparent = state.traceparent;
      if (state.tracestate) exchange.headers.tracestate = state.tracestate;
    }
    const request = state.request ?? state;
    request.open++;
    this.#calls.set(exchange, { request, startedAt: performance.now(), span });
  }

  #endCall(exchange: Exchange): void {
    const call = this.#calls.get(exchange);
    if (!call || !exchange.ctx) return;
    const { target, outcome, status } = exchange;
    const ms = performance.now() - call.startedAt;
    exchange.ctx.facts.calls.push({
      backend: target.backend,
      kind: target.kind,
      ms: tenths(ms),
      outcome,
    });
    this.metrics?.recordCall(target.backend, target.kind, outcome, ms / 1000);
    const span = call.span;
    if (span) {
      if (status !== undefined)
        span.setAttribute(
          target.protocol === 'grpc' ? 'rpc.grpc.status_code' : 'http.response.status_code',
          status,
        );
      span.finish(outcome);
    }
    const request = call.request;
    request.open--;
    if (request.open === 0 && request.ending) {
      const { status: answered, outcome: first, ms: took } = request.ending;
      this.#finishRequest(exchange.ctx.parent ?? exchange.ctx, request, answered, first, took);
    }
  }

  /** A call that shared another's: counted, and named in its request's line, never as a call. */
  #deduplicated({ ctx, target }: Deduplicated): void {
    const state = ctx && this.#stateOf(ctx);
    if (!state) return;
    this.metrics?.recordDeduplicated(target.backend, target.kind);
    const facts = (ctx.parent ?? ctx).facts;
    (facts.deduplicated ??= []).push(target.backend);
  }

  /**
   * Instances ejected, re-admitted or judged by health checks: one line and a gauge each;
   * retries: counted, and listed in their request's line.
   */
  #upstream(notice: UpstreamNotice): void {
    if ('ctx' in notice) {
      const { ctx, backend, instance, reason } = notice;
      if (!ctx || !this.#stateOf(ctx)) return;
      const refused = notice.type === 'retry_refused';
      this.metrics?.recordRetry(backend, reason, refused);
      const facts = (ctx.parent ?? ctx).facts;
      (facts.retries ??= []).push({ backend, instance, reason, ...(refused ? { refused } : {}) });
      return;
    }
    if (notice.scope !== this.#scope) return;
    if (notice.type === 'resolved') {
      this.#events.info(
        { backend: notice.backend, addresses: notice.addresses },
        'backend name resolved to new addresses',
      );
      return;
    }
    if (notice.type === 'resolve_failed') {
      this.#events.warn(
        { backend: notice.backend, err: notice.error },
        'backend name resolution failed; the last addresses go on serving',
      );
      return;
    }
    if (notice.type !== 'instance') return;
    const { backend, instance, state, reason, forMs } = notice;
    this.metrics?.recordInstance(backend, instance, state, reason);
    if (reason === 'added' || reason === 'removed') return;
    const fields = { backend, instance, state, reason, ...(forMs ? { forMs } : {}) };
    if (state === 'healthy') this.#events.info(fields, 'backend instance takes calls again');
    else if (state === 'ejected') this.#events.warn(fields, 'backend instance ejected');
    else this.#events.warn(fields, 'backend instance failed its health checks');
  }

  /**
   * The shared limit store's transitions, one line each (never one per request: a fallback
   * decision only counts), and the decisions made without it.
   */
  #limitStore(event: LimitStoreEvent): void {
    if (event.type === 'fallback') {
      this.metrics?.recordLimitStoreFallback(event.store);
      return;
    }
    const { store, fallback, reason, initial } = event;
    this.metrics?.recordLimitStoreUp(store, event.type === 'up');
    if (event.type === 'down')
      this.#events.warn(
        { store, fallback, reason },
        `limit store unavailable: rate limits decided by the ${fallback} fallback`,
      );
    else
      this.#events.info(
        { store },
        initial ? 'limit store connected' : 'limit store available again: rate limits shared',
      );
  }

  /**
   * What the caches report, to the metrics; the shared store's transitions and a failed
   * invalidation, as one line each (a Redis that flaps writes a line per flap, as the limit
   * store's does: its transitions are what an operator must see).
   */
  #cache(event: CacheEvent): void {
    this.metrics?.recordCache(event);
    if (event.type === 'down')
      this.#events.warn(
        { reason: event.reason },
        'cache store unavailable: answers served uncached until it is back',
      );
    else if (event.type === 'up')
      this.#events.info(event.initial ? 'cache store connected' : 'cache store available again');
    else if (event.type === 'fallback' && event.operation === 'invalidate')
      this.#events.warn(
        'cache invalidation not applied: the store did not answer; entries expire by their max-age',
      );
  }

  /**
   * The shared APQ store's transitions and the answers made without it. A Redis that flaps (each
   * probe succeeds, the next command times out) would write a line per flap, so `down` warnings
   * are written at most once per APQ_WARNING_INTERVAL_MS, with the count of those held back.
   */
  #apqStore(event: ApqStoreEvent): void {
    if (event.type === 'fallback') {
      this.metrics?.recordApqStoreFallback(event.operation);
      return;
    }
    this.metrics?.recordApqStoreUp(event.type === 'up');
    if (event.type === 'up') {
      // Paired with the warning written, not with every transition held back.
      if (event.initial) this.#events.info('APQ store connected');
      else if (this.#apqWarnedDown)
        this.#events.info('APQ store available again: documents shared');
      this.#apqWarnedDown = false;
      return;
    }
    const now = performance.now();
    if (now - this.#apqWarnedAt < APQ_WARNING_INTERVAL_MS) {
      this.#apqWarningsHeld += 1;
      return;
    }
    this.#events.warn(
      { reason: event.reason, held: this.#apqWarningsHeld },
      'APQ store unavailable: documents served and registered by this instance alone',
    );
    this.#apqWarnedAt = now;
    this.#apqWarningsHeld = 0;
    this.#apqWarnedDown = true;
  }

  /** The operation label: a GraphQL operation name, a REST route or binding, a gRPC method. */
  #operationLabel(ctx: RequestContext): string {
    const { facts } = ctx;
    // A batch counts as one request under one label: its operations' names would multiply the
    // series by every combination clients send.
    const operation =
      facts.operationName ??
      facts.route ??
      (facts.batch ? '(batch)' : facts.surface === 'graphql' ? '(anonymous)' : '(no route)');
    let budget = this.#operations.get(facts.surface);
    if (!budget)
      this.#operations.set(facts.surface, (budget = new LabelBudget(this.#maxOperations)));
    return budget.label(operation);
  }

  /**
   * The answer is written: one log line, the request metrics, the server span ended. `outcome`
   * is `ok` or the error code the client saw first.
   */
  #endRequest(ctx: RequestContext, status: number, outcome: string): void {
    const state = this.#state.get(ctx.facts);
    if (!state) return;
    const ms = performance.now() - ctx.startedAt;
    if (state.open > 0) state.ending = { status, outcome, ms };
    else this.#finishRequest(ctx, state, status, outcome, ms);
  }

  #finishRequest(
    ctx: RequestContext,
    state: RequestState,
    status: number,
    outcome: string,
    ms: number,
  ): void {
    const { facts } = ctx;
    const client = facts.client ?? '(unknown)';
    if (this.metrics) {
      const clientLabel = this.#clients.label(client);
      this.metrics.recordRequest(
        facts.surface,
        clientLabel,
        this.#operationLabel(ctx),
        outcome,
        ms / 1000,
      );
      // The stage names the refusing policy (of each operation, in a batch); a backend's own 429
      // is UPSTREAM_RATE_LIMITED, not this.
      for (const operation of facts.batch ?? [facts])
        if (operation.rateLimited !== undefined)
          this.metrics.recordRateLimited(operation.rateLimited, facts.surface);
      // Operation costs, one observation per operation: a batch's sum is no operation's cost.
      for (const operation of facts.batch ?? [facts]) {
        if (operation.cost !== undefined) this.metrics.recordCost(clientLabel, operation.cost);
        if (operation.actualCost !== undefined)
          this.metrics.recordActualCost(clientLabel, operation.actualCost);
      }
    }
    const span = state.span;
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
          ...(state.traceId ? { traceId: state.traceId } : {}),
          client,
          surface: facts.surface,
          method: ctx.method,
          path: ctx.path,
          ...(facts.operationName ? { operationName: facts.operationName } : {}),
          ...(facts.documentHash ? { documentHash: facts.documentHash } : {}),
          status,
          durationMs: tenths(ms),
          ...(facts.cost !== undefined ? { cost: facts.cost } : {}),
          ...(facts.actualCost !== undefined ? { actualCost: facts.actualCost } : {}),
          // Who called and how, never the credential: a rejection's reason is only here.
          ...(facts.auth !== undefined ? { auth: facts.auth } : {}),
          ...(ctx.identity ? { subject: ctx.identity.subject } : {}),
          ...(facts.authFailure !== undefined ? { authFailure: facts.authFailure } : {}),
          ...(facts.batch ? { batch: facts.batch.map(operationLine) } : {}),
          ...(facts.rateLimited !== undefined ? { rateLimited: facts.rateLimited } : {}),
          calls: facts.calls,
          ...(facts.cache ? { cache: facts.cache } : {}),
          ...(facts.deduplicated ? { deduplicated: facts.deduplicated } : {}),
          ...(facts.retries ? { retries: facts.retries } : {}),
          ...(facts.errorCodes.size > 0 ? { errors: [...facts.errorCodes] } : {}),
        },
        'request',
      );
    }
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await this.tracing?.shutdown();
  }
}
