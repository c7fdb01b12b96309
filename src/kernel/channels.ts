import diagnostics from 'node:diagnostics_channel';
import type { AppScope, RequestContext } from './context.ts';
import type { BackendTarget, HeaderRules } from './outbound.ts';

/**
 * What the request path publishes, on `node:diagnostics_channel`: the request, its stages, its
 * GraphQL phases and its backend calls. Logs, metrics and traces subscribe
 * (observability/telemetry.ts); nothing on the request path calls them, so the path reads the
 * same with observability on or off, and a channel without subscribers costs one check
 * (undici and fastify publish the same way).
 *
 * Channels are process-wide. A process may run several gateways (tests, the bench), so every
 * message carries the request context or the app's `scope`, and a subscriber keeps to its own.
 */

/** A request arrived (published before any stage runs). */
export interface RequestStart {
  readonly ctx: RequestContext;
  /** The server span's name: `POST /graphql`, `GET rest`, `pkg.Service/Method`. */
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** Its answer is written (or the client went away): `outcome` is `ok` or the first error code. */
export interface RequestEnd {
  readonly ctx: RequestContext;
  readonly status: number;
  readonly outcome: string;
}

/** One inbound stage run (a tracing channel: start, end, error). */
export interface StageRun {
  readonly ctx: RequestContext;
  readonly stage: string;
  error?: unknown;
}

/** A GraphQL phase: parse, validate, plan, execute; or a cache lookup. */
export type GraphQLEvent =
  | { readonly ctx: RequestContext; readonly phase: GraphQLPhase; readonly outcome?: string }
  | { readonly ctx: RequestContext; readonly cache: CacheName; readonly hit: boolean };
export type GraphQLPhase = 'parse' | 'validate' | 'plan' | 'execute';

/**
 * The caches a request can hit: parsed and validated documents (Apollo Server), query plans
 * (Apollo Gateway) and automatic persisted queries. The response cache will join them.
 */
export type CacheName = 'document' | 'query_plan' | 'apq';

/**
 * One attempt of a backend call as the outbound chain runs it (a tracing channel: start, then
 * asyncEnd or error). Subscribers may add to `headers` at start (trace context); `status`,
 * `outcome` and `backendFailed` are set by the time it ends.
 */
export interface Exchange {
  readonly target: BackendTarget;
  readonly ctx: RequestContext | undefined;
  readonly rules: HeaderRules | undefined;
  /** What goes out with the call: HTTP headers or gRPC metadata. */
  readonly headers: Record<string, string>;
  /** Milliseconds the call may take. */
  timeoutMs: number;
  /**
   * The timeout is what was left of the request's budget, shorter than the backend's own: if it
   * runs out, the gateway cut the call, and the backend is not to blame.
   */
  budgetCut: boolean;
  /** The HTTP status or gRPC status code of the answer, when there was one. */
  status?: number;
  /** `ok` or the error code the call ended with. */
  outcome: string;
  /** The backend failed (unreachable, timed out on its own bound, 5xx, garbage); not a 4xx. */
  backendFailed: boolean;
  error?: unknown;
}

/**
 * A backend call that made no call of its own: it joined an identical one already in flight
 * (policies/traffic/dedup.ts) and gets a copy of its answer. Published once per such call, when
 * it joins; the call it joined is the one published on `gateway:call`.
 */
export interface Deduplicated {
  readonly ctx: RequestContext | undefined;
  readonly target: BackendTarget;
}

/**
 * What happened to a backend's instances and retries (policies/traffic/upstreams.ts, retry.ts):
 * an instance ejected, re-admitted or judged by health checks, a backend's names resolved
 * again, a retry made or refused by the budget. Instance events carry the gateway's scope,
 * retry events the request's context.
 */
export type UpstreamNotice =
  | {
      readonly type: 'instance';
      readonly scope: AppScope;
      readonly backend: string;
      readonly instance: string;
      readonly state: 'healthy' | 'ejected' | 'unhealthy';
      readonly reason: string;
      readonly forMs?: number;
    }
  | {
      readonly type: 'resolved';
      readonly scope: AppScope;
      readonly backend: string;
      readonly addresses: readonly string[];
    }
  | {
      readonly type: 'resolve_failed';
      readonly scope: AppScope;
      readonly backend: string;
      readonly error: unknown;
    }
  | {
      readonly type: 'retry' | 'retry_refused';
      readonly ctx: RequestContext | undefined;
      readonly backend: string;
      readonly instance: string;
      readonly reason: string;
    };

/**
 * Load shedding (policies/traffic/gate.ts): a gate's counts changed (`level`), or it refused
 * work (`shed`). `gate` is `inbound` (the gateway's admission, `name` the surface of a refused
 * request) or `backend` (`name` the backend).
 */
export type LoadEvent =
  | {
      readonly scope: AppScope;
      readonly type: 'level';
      readonly gate: 'inbound' | 'backend';
      readonly name: string;
      readonly inFlight: number;
      readonly queued: number;
    }
  | {
      readonly scope: AppScope;
      readonly type: 'shed';
      readonly gate: 'inbound' | 'backend';
      readonly name: string;
      readonly reason: 'queue_full' | 'queue_timeout' | 'cancelled';
    };

/** A reload of the config finished. */
export interface ReloadDone {
  readonly scope: AppScope;
  readonly ok: boolean;
}

/**
 * What a shared limit store (Redis) reports: whether it answers, and each decision made without
 * it (policies/limits/stores/fallback.ts). `up`/`down` are published once per transition, and
 * once at start (`initial`); `fallback` once per decision the fallback made.
 */
export type LimitStoreSignal =
  | {
      readonly type: 'up' | 'down';
      readonly store: string;
      readonly initial: boolean;
      /** What decides while the store is down (`limits.store.on_unavailable`). */
      readonly fallback: 'local' | 'allow' | 'refuse';
      /** Why it is down: the client's error message (never the URL's credentials). */
      readonly reason?: string;
    }
  | { readonly type: 'fallback'; readonly store: string };

export type LimitStoreEvent = LimitStoreSignal & { readonly scope: AppScope };

/**
 * What the shared APQ store (Redis) reports (gateway/apq-cache.ts): whether it answers,
 * published once per transition and once at start (`initial`), and each lookup or registration
 * made without it (`fallback`: this process's cache answered alone).
 */
export type ApqStoreSignal =
  | {
      readonly type: 'up' | 'down';
      readonly initial: boolean;
      /** Why it is down: the client's error message (never the URL's credentials). */
      readonly reason?: string;
    }
  | { readonly type: 'fallback'; readonly operation: 'get' | 'set' };

export type ApqStoreEvent = ApqStoreSignal & { readonly scope: AppScope };

/**
 * What the cache reports (policies/cache): each lookup's outcome per cache and type, entries
 * evicted for room, and whether a shared store (Redis) answers (`up`/`down` once per transition
 * and once at start; `fallback` for each read or write made without it).
 */
export type CacheSignal =
  | {
      readonly type: 'lookup';
      readonly cache: 'response' | 'entity';
      /** The entity's type, or the response's root type. */
      readonly entryType: string;
      /** `hit`, `stale` (served while one request refreshes it), `miss`, or `bypass` (not looked up: the client asked, or the answer cannot be cached). */
      readonly result: 'hit' | 'stale' | 'miss' | 'bypass';
      /** Entries this outcome counts (an entity fetch looks up several at once). */
      readonly count: number;
    }
  | {
      readonly type: 'evict';
      readonly cache: 'response' | 'entity';
      readonly entryType: string;
      readonly bytes: number;
    }
  | { readonly type: 'write'; readonly cache: 'response' | 'entity'; readonly bytes: number }
  /** A memory store's bytes held for one cache, after they changed. */
  | { readonly type: 'size'; readonly cache: 'response' | 'entity'; readonly bytes: number }
  | { readonly type: 'invalidate'; readonly source: 'mutation' | 'admin'; readonly removed: number }
  | {
      readonly type: 'up' | 'down';
      readonly initial: boolean;
      /** Why it is down: the client's error message (never the URL's credentials). */
      readonly reason?: string;
    }
  | { readonly type: 'fallback'; readonly operation: 'get' | 'set' | 'lock' | 'invalidate' };

export type CacheEvent = CacheSignal & { readonly scope: AppScope };

export const channels = {
  requestStart: diagnostics.channel('gateway:request:start'),
  requestEnd: diagnostics.channel('gateway:request:end'),
  stage: diagnostics.tracingChannel<'gateway:stage', StageRun>('gateway:stage'),
  graphql: diagnostics.channel('gateway:graphql'),
  call: diagnostics.tracingChannel<'gateway:call', Exchange>('gateway:call'),
  dedup: diagnostics.channel('gateway:dedup'),
  upstream: diagnostics.channel('gateway:upstream'),
  reload: diagnostics.channel('gateway:reload'),
  load: diagnostics.channel('gateway:load'),
  limitStore: diagnostics.channel('gateway:limit-store'),
  apqStore: diagnostics.channel('gateway:apq-store'),
  cache: diagnostics.channel('gateway:cache'),
};
