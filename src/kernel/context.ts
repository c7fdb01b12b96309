import type { DocumentNode, GraphQLSchema } from 'graphql';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { CallGuard, CallObserver } from './observe.ts';

/**
 * What the gateway knows about one request, built when it arrives and handed to every stage,
 * to Apollo Server as `contextValue`, and to every data source. Stages write to it; nothing else
 * carries per-request state (policies that need more keep it in WeakMaps keyed by this object).
 */
export interface RequestContext {
  /** Correlation id: the client's when well-formed, else generated (see observability/correlation.ts). */
  correlationId: string;
  /** The header the correlation id travels in (`server.correlation_header`). */
  readonly correlationHeader: string;
  readonly method: string;
  /** The URL path, without the query string. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /**
   * `performance.now()` by which the whole request must be answered (`server.request_timeout`):
   * every backend call gets at most what is left of it, so retries and fan-out never outlive the
   * client.
   */
  readonly deadline: number;
  /** Headers stages add to the response, error responses included. */
  readonly responseHeaders: Map<string, string>;
  /**
   * Headers sent with every backend call of this request (correlation, identity, trace). Client
   * headers are never forwarded as such: a backend sees only what a stage chose to put here.
   */
  readonly upstreamHeaders: Record<string, string>;
  /** Backend calls report to it (logs, metrics, traces); absent where nothing observes. */
  observer?: CallObserver;
  /** Admits backend calls and learns from their outcomes (circuit breakers), when configured. */
  guard?: CallGuard;
  /** What the request did, for its log line and metrics; stages and the GraphQL layer fill it. */
  readonly facts: RequestFacts;
  /** The GraphQL operation, once resolved: what `operation` stages (cost, limits) read. */
  operation?: OperationFacts;
}

/** A resolved GraphQL operation and the graph it runs over. */
export interface OperationFacts {
  readonly document: DocumentNode;
  readonly name: string | undefined;
  readonly variables: Readonly<Record<string, unknown>>;
  /** The schema the operation was validated against. */
  readonly schema: GraphQLSchema;
  /** The supergraph it runs over: per-field policy (`@cost`, `@listSize`) is declared there. */
  readonly supergraphSdl: string;
  /** Items assumed in a list nothing sizes (`limits.cost.list_size`). */
  readonly listSize: number;
}

/** Filled as the request runs; read once when it ends. */
export interface RequestFacts {
  /** Which surface served it. */
  surface: 'graphql' | 'rest' | 'grpc' | 'other';
  /** The client's name (a BFF profile or `apollographql-client-name`), bounded by the metrics. */
  client?: string;
  operationName?: string;
  /** sha256 of the GraphQL document. */
  documentHash?: string;
  /** Estimated cost, once cost estimation runs. */
  cost?: number;
  /** Backend calls in the order they ended. */
  readonly calls: { backend: string; kind: string; ms: number; outcome: string }[];
  /** Error codes the client saw. */
  readonly errorCodes: Set<string>;
}

export function createRequestContext(
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  startedAt: number,
  timeoutMs = Number.POSITIVE_INFINITY,
  correlationHeader = 'x-correlation-id',
): RequestContext {
  return {
    correlationId: '',
    correlationHeader,
    method,
    path,
    headers,
    startedAt,
    deadline: startedAt + timeoutMs,
    responseHeaders: new Map(),
    upstreamHeaders: {},
    facts: { surface: 'other', calls: [], errorCodes: new Set() },
  };
}

/** The time a backend call may take: its own timeout, or what is left of the request's budget. */
export function callBudget(ctx: RequestContext | undefined, timeoutMs: number): number {
  if (!ctx) return timeoutMs;
  return Math.max(0, Math.min(timeoutMs, Math.floor(ctx.deadline - performance.now())));
}
