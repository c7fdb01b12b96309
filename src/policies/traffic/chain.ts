import type { Dispatcher } from 'undici';
import type {
  GrpcCall,
  GrpcUnaryAnswer,
  HttpAnswer,
  HttpCall,
  Outbound,
} from '../../kernel/outbound.ts';
import type {
  GrpcChannelPool,
  GrpcStreamExchange,
  GrpcUnaryExchange,
  Handler,
  HttpExchange,
  NamedInterceptor,
} from './exchange.ts';
import {
  DEFAULT_IDENTITY_NAMES,
  type IdentityHeaderNames,
  type IdentityProof,
} from '../../kernel/outbound.ts';
import { balance } from './balance.ts';
import { limitConcurrency } from './concurrency.ts';
import { detectOutliers } from './outlier.ts';
import { retry } from './retry.ts';
import type { Upstreams } from './upstream-registry.ts';
import type { GateLimits, Gates } from './gate.ts';
import { identityHeaders } from './identity.ts';
import { DEFAULT_DEDUP, dedup, type DedupSettings } from './dedup.ts';
import { deadline } from './deadline.ts';
import { propagateHeaders } from './headers.ts';
import { publishAttempt } from './publish.ts';
import { sendGrpcStream, sendGrpcUnary, sendHttp } from './transport.ts';

/**
 * The outbound chain: every backend call of a snapshot goes through these interceptors, in this
 * order, outermost first (undici's `compose()`, Envoy's upstream filters):
 *
 *   deadline          what is left of the request's budget bounds the call; none left, no call
 *   propagateHeaders  the backend's forwarded and static headers, the call's own, the stages' last
 *   identityHeaders   client copies of the identity names dropped; the verified identity and the
 *                     gateway's proof set
 *   dedup             identical read-only calls in flight together make one backend call, keyed
 *                     on every header above (identity included); the others get copies
 *   retry             an idempotent call that failed before the backend acted (refused, reset,
 *                     502/503/504, UNAVAILABLE) is tried again on another instance, after a
 *                     jittered backoff, within the request's budget and the backend's retry budget
 *   balance           picks the attempt's instance: round robin or least loaded, passing over
 *                     ejected and unhealthy ones and the one a retry comes from
 *   publishAttempt    `gateway:call` on diagnostics_channel: logs, metrics and spans subscribe;
 *                     one event pair per attempt, so a retried call shows each try
 *   limitConcurrency  the backend's cap on attempts in flight and queued (`traffic`); past it the
 *                     call fails fast, published like any attempt, unseen by outlier detection
 *   detectOutliers    refuses an attempt when no instance takes calls (UPSTREAM_CIRCUIT_OPEN);
 *                     counts each attempt's load and learns from its outcome, ejecting outliers
 *   transport         undici's pooled `request()` or a grpc-js channel
 *
 * docs/pipeline.md shows the same order; a test compares the two. The entity cache is not here:
 * it sits at the subgraph fetch (policies/cache/entity-cache.ts), where representations are data.
 */

export interface OutboundDeps {
  /** undici keep-alive pools, one per origin, shared across snapshots. */
  dispatcher: Dispatcher;
  channels: GrpcChannelPool;
  /**
   * Every backend's instances, balancing, outlier detection and retry settings: the running
   * gateway's, their state outliving snapshots. None: calls go where their call sites say, once
   * (a standalone command).
   */
  upstreams?: Upstreams | undefined;
  /**
   * The names identity travels under, and the proof backends check (none: no proof sent).
   * @default the default names, no proof
   */
  identity?: { names: IdentityHeaderNames; proof: IdentityProof | undefined } | undefined;
  /**
   * Which backends' identical read-only calls share one call (`traffic.dedup`,
   * `subgraphs.<name>.dedup`): per snapshot, like the config it comes from.
   * @default on for every backend
   */
  dedup?: DedupSettings | undefined;
  /**
   * The running gateway's admission gates (their counts outlive snapshots) and this snapshot's
   * caps per backend. None: calls are not capped (a standalone command).
   */
  load?: { gates: Gates; limitsOf: (backend: string) => GateLimits } | undefined;
}

/** The interceptors of a chain, outermost first: the order above, as data. */
export function interceptorsOf(
  deps: Pick<OutboundDeps, 'upstreams' | 'identity' | 'dedup' | 'load'>,
): NamedInterceptor[] {
  const names = deps.identity?.names ?? DEFAULT_IDENTITY_NAMES;
  return [
    { name: 'deadline', wrap: deadline },
    { name: 'propagateHeaders', wrap: propagateHeaders },
    {
      name: 'identityHeaders',
      wrap: identityHeaders(names, deps.identity?.proof),
    },
    { name: 'dedup', wrap: dedup(deps.dedup ?? DEFAULT_DEDUP, names.proof) },
    ...(deps.upstreams
      ? [
          { name: 'retry', wrap: retry(deps.upstreams) },
          { name: 'balance', wrap: balance(deps.upstreams) },
        ]
      : []),
    { name: 'publishAttempt', wrap: publishAttempt },
    ...(deps.load
      ? [{ name: 'limitConcurrency', wrap: limitConcurrency(deps.load.gates, deps.load.limitsOf) }]
      : []),
    ...(deps.upstreams ? [{ name: 'detectOutliers', wrap: detectOutliers }] : []),
  ];
}

/** Built once per snapshot: the interceptors wrap each transport once, not once per call. */
export function createOutbound(deps: OutboundDeps): Outbound {
  const interceptors = interceptorsOf(deps);
  const compose = (transport: Handler): Handler =>
    interceptors.reduceRight((next, interceptor) => interceptor.wrap(next), transport);
  const http = compose((ex) => sendHttp(deps.dispatcher, ex as HttpExchange));
  const unary = compose((ex) => sendGrpcUnary(deps.channels, ex as GrpcUnaryExchange));
  const stream = compose((ex) => sendGrpcStream(deps.channels, ex as GrpcStreamExchange));
  return {
    http<T>(call: HttpCall, read: (answer: HttpAnswer) => Promise<T>): Promise<T> {
      return http(exchangeOf(call, { read })) as Promise<T>;
    },
    grpcUnary<T>(call: GrpcCall, read: (answer: GrpcUnaryAnswer) => T): Promise<T> {
      return unary(exchangeOf(call, { read })) as Promise<T>;
    },
    grpcStream(call, handlers, signal) {
      return stream(exchangeOf(call, { handlers, signal })) as Promise<void>;
    },
  };
}

/** One object per attempt, built in one literal (this runs for every backend call). */
function exchangeOf(
  call: HttpCall | GrpcCall,
  how: Record<string, unknown>,
): HttpExchange & GrpcUnaryExchange & GrpcStreamExchange {
  return {
    target: call.target,
    ctx: call.ctx,
    rules: call.headers,
    own: call.ownHeaders,
    headers: {},
    origin: undefined,
    address: undefined,
    tls: undefined,
    upstream: undefined,
    instance: undefined,
    retryStatus: undefined,
    timeoutMs: call.timeoutMs,
    budgetCut: false,
    outcome: 'ok',
    backendFailed: false,
    call,
    read: how.read,
    handlers: how.handlers,
    signal: how.signal,
  } as HttpExchange & GrpcUnaryExchange & GrpcStreamExchange;
}
