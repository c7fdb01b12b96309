import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheName, CacheSignal } from '../kernel/channels.ts';
import { LatencyFamily } from './latency-series.ts';

/**
 * The gateway's Prometheus metrics, one registry per app (tests run several apps in a process).
 * Names and units follow the Prometheus conventions (https://prometheus.io/docs/practices/naming/):
 * `_total` counters, `_seconds` histograms, base units.
 *
 * Label values come from bounded sets only: surfaces, error codes and backend names are fixed by
 * the code and the config; operation and client names come from clients, so `LabelBudget` lets
 * the first ones in and folds the rest into one value.
 */

/** Request latencies from 5 ms to 30 s (the default request timeout). */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Backend calls are usually faster than whole requests. */
const CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
const COST_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

const OTHER = '(other)';
const INSTANCE_STATES = ['healthy', 'ejected', 'unhealthy'] as const;

/** Up to `limit` distinct values; any value after that is `(other)`. */
export class LabelBudget {
  readonly #seen = new Set<string>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  label(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#limit) return OTHER;
    this.#seen.add(value);
    return value;
  }
}

export interface GatewayMetrics {
  /** Every metric in the Prometheus text format, and its content type. */
  scrape(): Promise<{ body: string; contentType: string }>;
  /** A request answered: `outcome` is `ok` or the error code the client saw first. */
  recordRequest(
    surface: string,
    client: string,
    operation: string,
    outcome: string,
    seconds: number,
  ): void;
  recordCall(backend: string, kind: string, outcome: string, seconds: number): void;
  /** A backend call that joined an identical one in flight instead of being made. */
  recordDeduplicated(backend: string, kind: string): void;
  /** A rate policy (`limits.rate.policies[].name`: bounded by the config) refused a request. */
  recordRateLimited(policy: string, surface: string): void;
  recordCost(client: string, cost: number): void;
  /** What the backends' results of an operation weighed (policies/limits/cost.ts). */
  recordActualCost(client: string, cost: number): void;
  recordReload(ok: boolean): void;
  recordCacheLookup(cache: CacheName, hit: boolean): void;
  /** A backend instance's state (healthy, ejected, unhealthy); `reason` when it just changed. */
  recordInstance(
    backend: string,
    instance: string,
    state: (typeof INSTANCE_STATES)[number],
    reason?: string,
  ): void;
  /** A backend call was tried again, or the retry budget refused it (`refused`). */
  recordRetry(backend: string, reason: string, refused: boolean): void;
  /** A shared limit store started answering (`up`) or stopped. */
  recordLimitStoreUp(store: string, up: boolean): void;
  /** A rate decision was made without the shared store (`limits.store.on_unavailable`). */
  recordLimitStoreFallback(store: string): void;
  /**
   * A load-shedding gate's counts: the gateway's admission (`inbound`) or one backend's.
   */
  recordLoad(gate: 'inbound' | 'backend', name: string, inFlight: number, queued: number): void;
  /** A gate refused work: `name` is the surface (inbound) or the backend. */
  recordShed(gate: 'inbound' | 'backend', name: string, reason: string): void;
  /** The shared APQ store (Redis) started answering (`up`) or stopped. */
  recordApqStoreUp(up: boolean): void;
  /** An APQ lookup (`get`) or registration (`set`) was answered by this process's cache alone. */
  recordApqStoreFallback(operation: 'get' | 'set'): void;
  /** What the caches report (`gateway:cache`): lookups, writes, sizes, evictions, the store's state. */
  recordCache(signal: CacheSignal): void;
}

export function createMetrics(options: { processMetrics: boolean }): GatewayMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // The two families every request and backend call feeds (see latency-series.ts for why they
  // are not prom-client metrics).
  const requests = new LatencyFamily({
    counter: {
      name: 'gateway_requests_total',
      help: 'Requests answered, by surface (graphql, rest, grpc), client, operation and outcome (ok or the error code).',
    },
    histogram: {
      name: 'gateway_request_duration_seconds',
      help: 'Time from a request arriving to its answer being written.',
    },
    labelNames: ['surface', 'client', 'operation', 'outcome'],
    buckets: REQUEST_BUCKETS,
  });
  const calls = new LatencyFamily({
    counter: {
      name: 'gateway_backend_calls_total',
      help: 'Calls to backends, by backend (subgraph, service or route), kind (subgraph, rest, grpc, route) and outcome.',
    },
    histogram: {
      name: 'gateway_backend_call_duration_seconds',
      help: 'Duration of one backend call, from sending to the last byte of the answer.',
    },
    labelNames: ['backend', 'kind', 'outcome'],
    buckets: CALL_BUCKETS,
  });
  const rateLimited = new Counter({
    name: 'gateway_rate_limited_total',
    help: 'Requests the gateway’s rate limits refused (RATE_LIMITED), by the refusing policy and surface.',
    labelNames: ['policy', 'surface'],
    registers,
  });
  const cost = new Histogram({
    name: 'gateway_operation_cost',
    help: 'Estimated cost of GraphQL operations, by client.',
    labelNames: ['client'],
    buckets: COST_BUCKETS,
    registers,
  });
  // Beside the estimate, with the same buckets: the two histograms compare directly, and a
  // client whose actual costs sit far below its estimates sends slicing arguments it need not.
  const actualCost = new Histogram({
    name: 'gateway_operation_actual_cost',
    help: 'Actual cost of GraphQL operations (their backends’ results weighed), by client.',
    labelNames: ['client'],
    buckets: COST_BUCKETS,
    registers,
  });
  const deduplicated = new Counter({
    name: 'gateway_backend_calls_deduplicated_total',
    help: 'Backend calls not made because an identical read-only call was in flight: each got a copy of that call’s answer. By backend and kind.',
    labelNames: ['backend', 'kind'],
    registers,
  });
  const reloads = new Counter({
    name: 'gateway_supergraph_reloads_total',
    help: 'Config and supergraph reloads, by outcome (success, failure).',
    labelNames: ['outcome'],
    registers,
  });
  const cacheLookups = new Counter({
    name: 'gateway_cache_lookups_total',
    help: 'Lookups in the gateway’s caches (document: parsed and validated operations, query_plan, apq: automatic persisted queries; response and entity: cached data, by type), by result (hit, miss; for data also stale, bypass).',
    labelNames: ['cache', 'type', 'result'],
    registers,
  });
  const instanceState = new Gauge({
    name: 'gateway_backend_instance_state',
    help: 'Every backend instance: 1 for the state it is in (healthy, ejected, unhealthy), 0 for the others.',
    labelNames: ['backend', 'instance', 'state'],
    registers,
  });
  const ejections = new Counter({
    name: 'gateway_backend_ejections_total',
    help: 'Backend instances ejected by outlier detection, by backend, instance and rule (consecutive_failures, failure_rate).',
    labelNames: ['backend', 'instance', 'reason'],
    registers,
  });
  const retries = new Counter({
    name: 'gateway_backend_retries_total',
    help: 'Backend calls tried again, by backend and reason (unavailable, status, connect_failed); those the budget refused count in gateway_backend_retries_refused_total.',
    labelNames: ['backend', 'reason'],
    registers,
  });
  const retriesRefused = new Counter({
    name: 'gateway_backend_retries_refused_total',
    help: 'Retries the retry budget refused, by backend.',
    labelNames: ['backend'],
    registers,
  });
  const limitStoreUp = new Gauge({
    name: 'gateway_limit_store_up',
    help: 'Whether the shared limit store (Redis) answers: 1 while it decides rate limits, 0 while the fallback does.',
    labelNames: ['store'],
    registers,
  });
  const limitStoreFallbacks = new Counter({
    name: 'gateway_limit_store_fallbacks_total',
    help: 'Rate decisions made without the shared limit store, as limits.store.on_unavailable says.',
    labelNames: ['store'],
    registers,
  });
  const apqStoreUp = new Gauge({
    name: 'gateway_apq_store_up',
    help: 'Whether the shared automatic persisted query store (Redis) answers: 1 while it is asked, 0 while this process’s cache answers alone.',
    // A label, though there is one store: a labelled series appears once set, so an instance
    // without a shared store exports none rather than a 0 that reads as an outage.
    labelNames: ['store'],
    registers,
  });
  const apqStoreFallbacks = new Counter({
    name: 'gateway_apq_store_fallbacks_total',
    help: 'Automatic persisted query lookups (get) and registrations (set) answered without the shared store (Redis down or late), by operation.',
    labelNames: ['operation'],
    registers,
  });
  const cacheBytes = new Gauge({
    name: 'gateway_cache_bytes',
    help: 'Bytes the memory cache store holds per cache (keys, values, tags).',
    labelNames: ['cache'],
    registers,
  });
  const cacheWritten = new Counter({
    name: 'gateway_cache_written_bytes_total',
    help: 'Bytes of values written to the cache store, per cache.',
    labelNames: ['cache'],
    registers,
  });
  const cacheEvictions = new Counter({
    name: 'gateway_cache_evictions_total',
    help: 'Entries the memory cache store evicted for room (least recently used), per cache and type.',
    labelNames: ['cache', 'type'],
    registers,
  });
  const cacheInvalidated = new Counter({
    name: 'gateway_cache_invalidated_total',
    help: 'Entries removed by invalidations, by source (mutation, admin).',
    labelNames: ['source'],
    registers,
  });
  const cacheStoreUp = new Gauge({
    name: 'gateway_cache_store_up',
    help: 'Whether the shared cache store (Redis) answers: 1 while it is asked, 0 while answers are served uncached.',
    labelNames: ['store'],
    registers,
  });
  const cacheStoreFallbacks = new Counter({
    name: 'gateway_cache_store_fallbacks_total',
    help: 'Cache reads, writes, locks and invalidations made without the shared store (Redis down or late), by operation.',
    labelNames: ['operation'],
    registers,
  });
  // Gate levels change twice a request and twice a backend call: they are kept as plain numbers
  // and handed to prom-client at scrape time (`collect`), off the request path.
  const inbound = { inFlight: 0, queued: 0 };
  const backends = new Map<string, { inFlight: number; queued: number }>();
  new Gauge({
    name: 'gateway_requests_in_flight',
    help: 'Requests admitted by the gateway’s load shedding (traffic.inbound) and not yet answered, every surface together.',
    registers,
    collect() {
      this.set(inbound.inFlight);
    },
  });
  new Gauge({
    name: 'gateway_requests_queued',
    help: 'Requests waiting for a slot in the gateway’s admission queue (at most traffic.inbound.max_queued).',
    registers,
    collect() {
      this.set(inbound.queued);
    },
  });
  const shed = new Counter({
    name: 'gateway_requests_shed_total',
    help: 'Requests refused with SERVER_OVERLOADED, by surface and reason (queue_full, queue_timeout, cancelled: the client left while queued).',
    labelNames: ['surface', 'reason'],
    registers,
  });
  new Gauge({
    name: 'gateway_backend_calls_in_flight',
    help: 'Calls in flight to each backend under its load-shedding cap (traffic.backends, a subgraph’s traffic).',
    labelNames: ['backend'],
    registers,
    collect() {
      for (const [backend, level] of backends) this.set({ backend }, level.inFlight);
    },
  });
  new Gauge({
    name: 'gateway_backend_calls_queued',
    help: 'Calls waiting for a slot under each backend’s cap.',
    labelNames: ['backend'],
    registers,
    collect() {
      for (const [backend, level] of backends) this.set({ backend }, level.queued);
    },
  });
  const backendShed = new Counter({
    name: 'gateway_backend_calls_shed_total',
    help: 'Backend calls refused with UPSTREAM_OVERLOADED without being made, by backend and reason (queue_full, queue_timeout).',
    labelNames: ['backend', 'reason'],
    registers,
  });
  return {
    async scrape() {
      const body = `${requests.render()}${calls.render()}${await registry.metrics()}`;
      return { body, contentType: registry.contentType };
    },
    recordRequest(surface, client, operation, outcome, seconds) {
      requests.observe([surface, client, operation, outcome], seconds);
    },
    recordCall(backend, kind, outcome, seconds) {
      calls.observe([backend, kind, outcome], seconds);
    },
    recordDeduplicated(backend, kind) {
      deduplicated.inc({ backend, kind });
    },
    recordRateLimited(policy, surface) {
      rateLimited.inc({ policy, surface });
    },
    recordCost(client, value) {
      cost.observe({ client }, value);
    },
    recordActualCost(client, value) {
      actualCost.observe({ client }, value);
    },
    recordReload(ok) {
      reloads.inc({ outcome: ok ? 'success' : 'failure' });
    },
    recordCacheLookup(cache, hit) {
      cacheLookups.inc({ cache, result: hit ? 'hit' : 'miss' });
    },
    recordInstance(backend, instance, state, reason) {
      if (reason === 'removed') {
        for (const each of INSTANCE_STATES)
          instanceState.remove({ backend, instance, state: each });
        return;
      }
      for (const each of INSTANCE_STATES)
        instanceState.set({ backend, instance, state: each }, each === state ? 1 : 0);
      if (state === 'ejected' && reason) ejections.inc({ backend, instance, reason });
    },
    recordRetry(backend, reason, refused) {
      if (refused) retriesRefused.inc({ backend });
      else retries.inc({ backend, reason });
    },
    recordLimitStoreUp(store, up) {
      limitStoreUp.set({ store }, up ? 1 : 0);
    },
    recordLimitStoreFallback(store) {
      limitStoreFallbacks.inc({ store });
    },
    recordLoad(gate, name, inFlight, queued) {
      let level = inbound;
      if (gate === 'backend') {
        const known = backends.get(name);
        if (known) level = known;
        else backends.set(name, (level = { inFlight: 0, queued: 0 }));
      }
      level.inFlight = inFlight;
      level.queued = queued;
    },
    recordShed(gate, name, reason) {
      if (gate === 'inbound') shed.inc({ surface: name, reason });
      else backendShed.inc({ backend: name, reason });
    },
    recordApqStoreUp(up) {
      apqStoreUp.set({ store: 'redis' }, up ? 1 : 0);
    },
    recordApqStoreFallback(operation) {
      apqStoreFallbacks.inc({ operation });
    },
    recordCache(signal) {
      switch (signal.type) {
        case 'lookup':
          cacheLookups.inc(
            { cache: signal.cache, type: signal.entryType, result: signal.result },
            signal.count,
          );
          return;
        case 'evict':
          cacheEvictions.inc({ cache: signal.cache, type: signal.entryType });
          return;
        case 'write':
          cacheWritten.inc({ cache: signal.cache }, signal.bytes);
          return;
        case 'size':
          cacheBytes.set({ cache: signal.cache }, signal.bytes);
          return;
        case 'invalidate':
          cacheInvalidated.inc({ source: signal.source }, signal.removed);
          return;
        case 'fallback':
          cacheStoreFallbacks.inc({ operation: signal.operation });
          return;
        case 'up':
        case 'down':
          cacheStoreUp.set({ store: 'redis' }, signal.type === 'up' ? 1 : 0);
      }
    },
  };
}
